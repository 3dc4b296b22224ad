import type { Knex } from 'knex';

/**
 * Metering and billing state: per-period usage counters (used + reserved), one reservation per
 * job, the tenant's Stripe customer/subscription, processed Stripe event ids, once-only usage
 * alerts, and the reporter's bookkeeping on ledger rows.
 */
export async function up(knex: Knex): Promise<void> {
  // One row per tenant, UTC month and metric. The quota check reads and updates only these rows
  // (never the ledger), so it costs the same with 10 rows or 10 million in usage_events.
  // storage_bytes is a level, not a monthly flow: it lives on the fixed period 1970-01-01.
  await knex.schema.createTable('usage_counters', (t) => {
    t.text('tenant_id').notNullable().references('tenants.id').onDelete('CASCADE');
    t.date('period_start').notNullable();
    t.text('metric').notNullable();
    t.double('used').notNullable().defaultTo(0);
    t.double('reserved').notNullable().defaultTo(0);
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['tenant_id', 'period_start', 'metric']);
  });
  await knex.raw(`
    ALTER TABLE usage_counters ADD CONSTRAINT usage_counters_reserved_check CHECK (reserved >= 0);
    CREATE INDEX usage_counters_recent_idx ON usage_counters (updated_at);
  `);

  // What a job still holds of its estimate. No FK to jobs: the reservation is written in the
  // submit transaction before the job row, and a sweeper releases any whose job is gone.
  await knex.schema.createTable('job_reservations', (t) => {
    t.text('job_id').primary();
    t.text('tenant_id').notNullable().references('tenants.id').onDelete('CASCADE');
    t.date('period_start').notNullable();
    // { "<metric>": amount still reserved }, shrinking as the job's steps record actual usage.
    t.jsonb('amounts').notNullable().defaultTo('{}');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('settled_at', { useTz: true });
    // settled (job succeeded) | released (failed, canceled) | swept (ended without either)
    t.text('outcome');
  });
  await knex.raw(
    'CREATE INDEX job_reservations_open_idx ON job_reservations (created_at) WHERE settled_at IS NULL',
  );

  await knex.schema.alterTable('tenants', (t) => {
    // none | active | trialing | past_due | unpaid | canceled | incomplete | incomplete_expired | paused
    t.text('subscription_status').notNullable().defaultTo('none');
    t.text('stripe_customer_id').unique();
    t.text('stripe_subscription_id');
    t.timestamp('current_period_end', { useTz: true });
    t.boolean('cancel_at_period_end').notNullable().defaultTo(false);
    t.timestamp('past_due_since', { useTz: true });
    t.timestamp('plan_changed_at', { useTz: true });
    // `created` (unix seconds) of the newest Stripe event applied to the subscription state:
    // an older event delivered late must not undo a newer one.
    t.bigInteger('stripe_state_at');
  });

  // Apply-once: the insert of the event id commits with the change it caused.
  await knex.schema.createTable('stripe_events', (t) => {
    t.text('id').primary();
    t.text('type').notNullable();
    t.text('tenant_id');
    // applied | ignored_stale | ignored_unknown_tenant | ignored_type
    t.text('outcome').notNullable();
    t.timestamp('processed_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });

  // Whoever inserts the row sends the mail; sent_at lets a crashed sender's mail go out later.
  await knex.schema.createTable('usage_alerts', (t) => {
    t.bigIncrements('id').primary();
    t.text('tenant_id').notNullable().references('tenants.id').onDelete('CASCADE');
    t.text('metric').notNullable();
    t.date('period_start').notNullable();
    t.integer('threshold').notNullable();
    t.double('used').notNullable();
    t.double('limit').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('sent_at', { useTz: true });
    t.unique(['tenant_id', 'metric', 'period_start', 'threshold']);
  });
  await knex.raw(`
    ALTER TABLE usage_alerts ADD CONSTRAINT usage_alerts_threshold_check CHECK (threshold IN (80, 100));
    CREATE INDEX usage_alerts_pending_idx ON usage_alerts (created_at) WHERE sent_at IS NULL;
  `);

  // The usage reporter's bookkeeping: backoff per row, and why a row was closed without a send.
  await knex.schema.alterTable('usage_events', (t) => {
    t.integer('report_attempts').notNullable().defaultTo(0);
    t.timestamp('report_after', { useTz: true });
    // delivered | duplicate (Stripe already had the identifier) | before_billing | not_metered | too_old
    t.text('report_outcome');
    t.text('report_error');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('usage_events', (t) => {
    for (const c of ['report_attempts', 'report_after', 'report_outcome', 'report_error']) t.dropColumn(c);
  });
  for (const t of ['usage_alerts', 'stripe_events', 'job_reservations', 'usage_counters']) {
    await knex.schema.dropTable(t);
  }
  await knex.schema.alterTable('tenants', (t) => {
    for (const c of [
      'subscription_status',
      'stripe_customer_id',
      'stripe_subscription_id',
      'current_period_end',
      'cancel_at_period_end',
      'past_due_since',
      'plan_changed_at',
      'stripe_state_at',
    ]) {
      t.dropColumn(c);
    }
  });
}
