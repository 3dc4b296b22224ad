import type { Knex } from 'knex';

/** Jobs, their steps, the usage ledger, idempotency keys and client webhook deliveries. */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('tenants', (t) => {
    // Signs client callbacks; readable by the tenant (GET /v1/webhook-secret), like Stripe's whsec.
    t.text('webhook_secret');
  });

  await knex.schema.createTable('jobs', (t) => {
    t.text('id').primary();
    t.text('tenant_id').notNullable().references('tenants.id').onDelete('CASCADE');
    t.text('kind').notNullable();
    t.text('status').notNullable().defaultTo('queued');
    t.double('progress').notNullable().defaultTo(0);
    t.integer('attempts').notNullable().defaultTo(0);
    t.integer('priority').notNullable().defaultTo(0);
    t.jsonb('payload').notNullable();
    t.jsonb('estimate').notNullable().defaultTo('{}');
    t.jsonb('metadata').notNullable().defaultTo('{}');
    t.text('callback_url');
    t.text('created_by');
    t.text('error_code');
    t.text('error_message');
    t.text('output_key');
    t.text('output_content_type');
    t.bigInteger('output_bytes');
    t.double('output_duration_seconds');
    t.timestamp('output_expires_at', { useTz: true });
    t.timestamp('output_deleted_at', { useTz: true });
    // Outbox marker: null until the BullMQ job is known to exist; the reconciler adds the rest.
    t.timestamp('enqueued_at', { useTz: true });
    t.timestamp('cancel_requested_at', { useTz: true });
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('started_at', { useTz: true });
    t.timestamp('finished_at', { useTz: true });
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['tenant_id', 'created_at', 'id']);
  });
  await knex.raw(`
    ALTER TABLE jobs ADD CONSTRAINT jobs_kind_check CHECK (kind IN ('render','tts','image','export','deletion'));
    ALTER TABLE jobs ADD CONSTRAINT jobs_status_check CHECK (status IN ('queued','running','succeeded','failed','canceled'));
    ALTER TABLE jobs ADD CONSTRAINT jobs_progress_check CHECK (progress >= 0 AND progress <= 1);
    CREATE INDEX jobs_open_idx ON jobs (updated_at) WHERE status IN ('queued','running');
    CREATE INDEX jobs_output_expiry_idx ON jobs (output_expires_at) WHERE output_key IS NOT NULL AND output_deleted_at IS NULL;
  `);

  await knex.schema.createTable('job_steps', (t) => {
    t.text('job_id').notNullable().references('jobs.id').onDelete('CASCADE');
    t.text('name').notNullable();
    t.integer('position').notNullable();
    t.text('status').notNullable();
    t.integer('attempt').notNullable().defaultTo(1);
    t.boolean('cache_hit').notNullable().defaultTo(false);
    // What a finished step produced, so a retry resumes after it instead of redoing it.
    t.jsonb('result');
    t.text('error');
    t.timestamp('started_at', { useTz: true });
    t.timestamp('finished_at', { useTz: true });
    t.primary(['job_id', 'name']);
  });

  // The usage ledger: one row per job, step and metric, written in the transaction that marks
  // the step done. The unique key is what makes retries and stalls count once; the row id is
  // the Stripe meter-event identifier. No FK to tenants: rows outlive a deleted tenant, pseudonymised.
  await knex.schema.createTable('usage_events', (t) => {
    t.text('id').primary();
    t.text('tenant_id').notNullable();
    t.text('job_id').notNullable();
    t.text('step').notNullable();
    t.text('metric').notNullable();
    t.double('quantity').notNullable();
    t.timestamp('occurred_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('reported_at', { useTz: true });
    t.unique(['job_id', 'step', 'metric']);
    t.index(['tenant_id', 'occurred_at', 'id']);
  });
  await knex.raw(
    'CREATE INDEX usage_events_unreported_idx ON usage_events (occurred_at) WHERE reported_at IS NULL',
  );

  await knex.schema.createTable('idempotency_keys', (t) => {
    t.text('tenant_id').notNullable().references('tenants.id').onDelete('CASCADE');
    t.text('key').notNullable();
    t.text('request_hash').notNullable();
    t.text('job_id').notNullable();
    t.timestamp('expires_at', { useTz: true }).notNullable();
    t.primary(['tenant_id', 'key']);
  });

  await knex.schema.createTable('webhook_deliveries', (t) => {
    t.text('id').primary();
    t.text('tenant_id').notNullable().references('tenants.id').onDelete('CASCADE');
    t.text('job_id').notNullable();
    t.text('event').notNullable();
    t.text('url').notNullable();
    t.jsonb('payload').notNullable();
    t.text('status').notNullable().defaultTo('pending');
    t.integer('attempts').notNullable().defaultTo(0);
    t.integer('last_status_code');
    t.text('last_error');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('delivered_at', { useTz: true });
    t.unique(['job_id', 'event']);
    t.index(['tenant_id', 'created_at']);
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const t of ['webhook_deliveries', 'idempotency_keys', 'usage_events', 'job_steps', 'jobs']) {
    await knex.schema.dropTable(t);
  }
  await knex.schema.alterTable('tenants', (t) => t.dropColumn('webhook_secret'));
}
