import type { Knex } from 'knex';

/**
 * The backup log: one row per `npm run backup`, written after the snapshot (so a dump never holds
 * its own row). What `GET /v1/ops/backups` reads; the backups themselves live in storage.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('backups', (t) => {
    t.text('id').primary();
    // verified | failed
    t.text('status').notNullable();
    t.timestamp('started_at', { useTz: true }).notNullable();
    t.timestamp('finished_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    // Snapshot time (= the manifest's taken_at); null when the backup failed before it.
    t.timestamp('taken_at', { useTz: true });
    t.timestamp('verified_at', { useTz: true });
    // checksum | restore: how far the verification went
    t.text('verification');
    t.text('manifest_key');
    t.bigInteger('stored_bytes');
    t.boolean('encrypted');
    t.text('key_fingerprint');
    t.jsonb('tables');
    t.text('error');
    t.index(['status', 'taken_at']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('backups');
}
