import type { Knex } from 'knex';

/** Account lifecycle: the pending-deletion marker on tenants and the deletion receipts kept afterwards. */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('tenants', (t) => {
    // Set while a deletion waits out its grace period; cleared by cancel. The deletion job row
    // (kind 'deletion', status 'queued') is the source of truth, this is what /v1/me can show.
    t.timestamp('deletion_scheduled_for', { useTz: true });
  });

  // Proof that a tenant was erased, kept after everything else is gone: no personal data, no
  // tenant id (only its pseudonym, the same one the usage ledger keeps for invoices) and no FK.
  await knex.schema.createTable('deletion_receipts', (t) => {
    t.text('id').primary();
    // The deletion job this receipt belongs to: makes every deletion step re-runnable (one receipt per job).
    t.text('job_id').notNullable().unique();
    t.text('tenant_ref').notNullable();
    // Rows/objects per kind of data, counted when the deletion started.
    t.jsonb('counts').notNullable().defaultTo('{}');
    t.timestamp('started_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('completed_at', { useTz: true });
    t.timestamp('notified_at', { useTz: true });
    t.index(['tenant_ref']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('deletion_receipts');
  await knex.schema.alterTable('tenants', (t) => t.dropColumn('deletion_scheduled_for'));
}
