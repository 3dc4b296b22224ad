import type { Knex } from 'knex';

/**
 * Standard Webhooks: a tenant's previous signing secret during a rotation, its default endpoint,
 * and every delivery attempt (the delivery log).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('tenants', (t) => {
    // While set and not past, webhooks carry signatures by both secrets (rotation overlap).
    t.text('webhook_secret_previous');
    t.timestamp('webhook_secret_previous_until', { useTz: true });
  });

  await knex.schema.createTable('webhook_endpoints', (t) => {
    t.text('tenant_id').primary().references('tenants.id').onDelete('CASCADE');
    t.text('url').notNullable();
    // null: every event type webhooks carry; else the chosen ones.
    t.jsonb('events');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });

  await knex.schema.alterTable('webhook_deliveries', (t) => {
    // Deliveries of tenant events (usage alerts, webhook.test) belong to no job.
    t.text('job_id').nullable().alter();
    // The event's id: the `webhook-id` of every attempt and replay.
    t.text('event_id');
    t.timestamp('next_retry_at', { useTz: true });
    t.index(['tenant_id', 'status', 'created_at']);
  });

  await knex.schema.createTable('webhook_attempts', (t) => {
    t.bigIncrements('id').primary();
    t.text('delivery_id').notNullable().references('webhook_deliveries.id').onDelete('CASCADE');
    t.text('tenant_id').notNullable().references('tenants.id').onDelete('CASCADE');
    t.timestamp('attempted_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.text('url').notNullable();
    t.integer('status_code');
    t.integer('latency_ms').notNullable();
    // The first 2 KB of the answer, for the delivery log.
    t.text('response_body');
    t.text('error');
    t.timestamp('next_retry_at', { useTz: true });
    t.index(['delivery_id', 'attempted_at']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('webhook_attempts');
  await knex.schema.alterTable('webhook_deliveries', (t) => {
    t.dropIndex(['tenant_id', 'status', 'created_at']);
    t.dropColumn('next_retry_at');
    t.dropColumn('event_id');
  });
  await knex.schema.dropTable('webhook_endpoints');
  await knex.schema.alterTable('tenants', (t) => {
    t.dropColumn('webhook_secret_previous_until');
    t.dropColumn('webhook_secret_previous');
  });
}
