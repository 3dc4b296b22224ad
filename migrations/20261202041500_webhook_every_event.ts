import type { Knex } from 'knex';

/**
 * Default endpoints may now take every job event, and a job has many `job.step.*` and
 * `job.progress` events. The once-per-job-and-type rule stays for the final events only (a
 * retried finalisation must not deliver twice); the others are recorded once per event.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('webhook_deliveries', (t) => t.dropUnique(['job_id', 'event']));
  await knex.raw(`
    CREATE UNIQUE INDEX webhook_deliveries_final_once ON webhook_deliveries (job_id, event)
     WHERE event IN ('job.succeeded', 'job.failed', 'job.canceled')`);
  await knex.raw('CREATE INDEX webhook_deliveries_job ON webhook_deliveries (job_id)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP INDEX webhook_deliveries_job');
  await knex.raw('DROP INDEX webhook_deliveries_final_once');
  await knex.raw(`
    DELETE FROM webhook_deliveries
     WHERE job_id IS NOT NULL AND event NOT IN ('job.succeeded', 'job.failed', 'job.canceled')`);
  await knex.schema.alterTable('webhook_deliveries', (t) => t.unique(['job_id', 'event']));
}
