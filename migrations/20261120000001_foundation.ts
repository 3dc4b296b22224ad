import type { Knex } from 'knex';

/** Tenants, users, roles, sign-in tokens, sessions, API keys and the append-only audit log. */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('tenants', (t) => {
    t.text('id').primary();
    t.text('name').notNullable();
    t.text('plan').notNullable().defaultTo('free');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });

  await knex.schema.createTable('users', (t) => {
    t.text('id').primary();
    // Stored lower-cased by the application; unique across the platform.
    t.text('email').notNullable().unique();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('last_sign_in_at', { useTz: true });
  });

  await knex.schema.createTable('memberships', (t) => {
    t.text('tenant_id').notNullable().references('tenants.id').onDelete('CASCADE');
    t.text('user_id').notNullable().references('users.id').onDelete('CASCADE');
    t.text('role').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['tenant_id', 'user_id']);
    t.index(['user_id']);
  });
  await knex.raw(
    `ALTER TABLE memberships ADD CONSTRAINT memberships_role_check CHECK (role IN ('owner','admin','member','viewer'))`,
  );

  await knex.schema.createTable('magic_link_tokens', (t) => {
    t.text('id').primary();
    t.text('token_hash').notNullable().unique();
    t.text('email').notNullable();
    t.text('purpose').notNullable().defaultTo('login');
    // Invites: the tenant to join and the role to join with.
    t.text('tenant_id').references('tenants.id').onDelete('CASCADE');
    t.text('role');
    t.text('invited_by');
    t.timestamp('expires_at', { useTz: true }).notNullable();
    t.timestamp('consumed_at', { useTz: true });
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['expires_at']);
  });
  await knex.raw(
    `ALTER TABLE magic_link_tokens ADD CONSTRAINT magic_link_tokens_purpose_check CHECK (purpose IN ('login','invite'))`,
  );

  // A session is one refresh-token family: every rotation stays in it, reuse revokes it.
  await knex.schema.createTable('sessions', (t) => {
    t.text('id').primary();
    t.text('user_id').notNullable().references('users.id').onDelete('CASCADE');
    t.text('tenant_id').notNullable().references('tenants.id').onDelete('CASCADE');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('authenticated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('last_used_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('expires_at', { useTz: true }).notNullable();
    t.timestamp('revoked_at', { useTz: true });
    t.text('revoked_reason');
    t.text('ip');
    t.text('user_agent');
    t.index(['user_id']);
    t.index(['tenant_id']);
  });

  await knex.schema.createTable('refresh_tokens', (t) => {
    t.text('id').primary();
    t.text('session_id').notNullable().references('sessions.id').onDelete('CASCADE');
    t.text('token_hash').notNullable().unique();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('expires_at', { useTz: true }).notNullable();
    // Set when the token is exchanged; presenting it again is reuse.
    t.timestamp('rotated_at', { useTz: true });
    t.index(['session_id']);
  });

  await knex.schema.createTable('api_keys', (t) => {
    t.text('id').primary();
    t.text('tenant_id').notNullable().references('tenants.id').onDelete('CASCADE');
    t.text('created_by').references('users.id').onDelete('SET NULL');
    t.text('name').notNullable();
    t.text('role').notNullable().defaultTo('member');
    t.text('prefix').notNullable();
    t.text('key_hash').notNullable().unique();
    t.text('last4').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('last_used_at', { useTz: true });
    t.timestamp('revoked_at', { useTz: true });
    t.index(['tenant_id']);
  });

  // Append-only: no foreign key (entries outlive what they name), and a trigger refuses UPDATE.
  await knex.schema.createTable('audit_log', (t) => {
    t.bigIncrements('id').primary();
    t.text('tenant_id');
    t.text('actor_type').notNullable();
    t.text('actor_id');
    t.text('action').notNullable();
    t.text('target_type');
    t.text('target_id');
    t.text('request_id');
    t.text('ip');
    t.jsonb('metadata').notNullable().defaultTo('{}');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['tenant_id', 'id']);
  });
  await knex.raw(`
    CREATE FUNCTION audit_log_no_update() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$;
    CREATE TRIGGER audit_log_append_only BEFORE UPDATE ON audit_log
      FOR EACH ROW EXECUTE FUNCTION audit_log_no_update();
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('audit_log');
  await knex.raw('DROP FUNCTION IF EXISTS audit_log_no_update()');
  for (const t of [
    'api_keys',
    'refresh_tokens',
    'sessions',
    'magic_link_tokens',
    'memberships',
    'users',
    'tenants',
  ]) {
    await knex.schema.dropTable(t);
  }
}
