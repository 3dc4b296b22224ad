import type { Knex } from 'knex';

/**
 * The reconciler's re-enqueue counter gets a column of its own. It used to live in
 * `jobs.metadata.__reenqueues`, where a client saw it, and where a client that sent that key made the
 * reconciler give up on its own job. Numbers found there are taken as the counter (the reconciler
 * only ever wrote integers) and the key is removed, so `metadata` is what the client sent.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('jobs', (t) => {
    // Times the reconciler re-added the job after BullMQ had failed it (capped by the reconciler).
    t.integer('reenqueues').notNullable().defaultTo(0);
  });
  await knex.raw(`
    UPDATE jobs
       SET reenqueues = least(greatest(floor((metadata->>'__reenqueues')::numeric), 0), 1000)::int,
           metadata = metadata - '__reenqueues'
     WHERE jsonb_typeof(metadata->'__reenqueues') = 'number'`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    UPDATE jobs SET metadata = jsonb_set(metadata, '{__reenqueues}', to_jsonb(reenqueues))
     WHERE reenqueues > 0`);
  await knex.schema.alterTable('jobs', (t) => t.dropColumn('reenqueues'));
}
