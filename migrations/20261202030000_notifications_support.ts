import type { Knex } from 'knex';

/**
 * The in-app notification feed (one row per recipient) and support tickets with their delivery
 * state (the helpdesk's ticket id once known, so a retry never files a second ticket).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('notifications', (t) => {
    t.text('id').primary();
    t.text('tenant_id').notNullable().references('tenants.id').onDelete('CASCADE');
    t.text('user_id').notNullable().references('users.id').onDelete('CASCADE');
    t.text('type').notNullable();
    t.text('title').notNullable();
    t.text('body').notNullable();
    // A dashboard path (`/jobs/job_…`), never an absolute URL.
    t.text('link');
    t.text('target_type');
    t.text('target_id');
    // What makes two notifications the same moment (`usage:render_seconds:80:2026-12`): each once.
    t.text('dedupe_key').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('read_at', { useTz: true });
    t.unique(['tenant_id', 'user_id', 'dedupe_key']);
    t.index(['tenant_id', 'user_id', 'created_at']);
  });
  await knex.raw(
    `CREATE INDEX notifications_unread ON notifications (tenant_id, user_id) WHERE read_at IS NULL`,
  );

  await knex.schema.createTable('support_tickets', (t) => {
    t.text('id').primary();
    t.text('tenant_id').notNullable().references('tenants.id').onDelete('CASCADE');
    // Null when an API key filed it; requester_email is then the tenant's first owner.
    t.text('user_id').references('users.id').onDelete('SET NULL');
    t.text('api_key_id');
    t.text('requester_email').notNullable();
    t.text('subject').notNullable();
    t.text('message').notNullable();
    t.text('job_id');
    // pending → delivered | failed
    t.text('status').notNullable().defaultTo('pending');
    // freshdesk | email | outbox: where it went (or is going).
    t.text('channel');
    t.text('helpdesk_ticket_id');
    t.integer('attempts').notNullable().defaultTo(0);
    // Set before each create call: a later try first asks the helpdesk whether that call landed.
    t.timestamp('delivery_started_at', { useTz: true });
    t.timestamp('delivered_at', { useTz: true });
    t.text('last_error');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['tenant_id', 'created_at']);
  });
  await knex.raw(
    `ALTER TABLE support_tickets ADD CONSTRAINT support_tickets_status_check CHECK (status IN ('pending','delivered','failed'))`,
  );
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('support_tickets');
  await knex.schema.dropTable('notifications');
}
