import type { Knex } from 'knex';

/**
 * Publishing to YouTube: a tenant's connected channel (its OAuth refresh token, encrypted), the
 * pending authorisations (state → PKCE verifier), the `publish` job kind and a job's `result`
 * (what a publish produced: the video id and URL).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('youtube_connections', (t) => {
    // One channel per tenant: connecting again replaces it.
    t.text('tenant_id').primary().references('tenants.id').onDelete('CASCADE');
    // AES-256-GCM under INTEGRATIONS_ENCRYPTION_KEY (iv.tag.ciphertext, base64url); never the plain token.
    t.text('refresh_token_encrypted').notNullable();
    // First 16 hex of sha256(key): which key decrypts it (a rotated key reads as "reconnect").
    t.text('key_fingerprint').notNullable();
    t.text('scope').notNullable();
    t.text('channel_id');
    t.text('channel_title');
    t.text('connected_by');
    t.timestamp('connected_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.schema.createTable('youtube_oauth_states', (t) => {
    // sha256 of the `state` sent to Google: the state itself is a bearer secret until used.
    t.text('state_hash').primary();
    t.text('tenant_id').notNullable().references('tenants.id').onDelete('CASCADE');
    t.text('user_id').notNullable();
    // The PKCE code_verifier, encrypted like the refresh token; it never leaves the server.
    t.text('code_verifier_encrypted').notNullable();
    t.timestamp('expires_at', { useTz: true }).notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['expires_at']);
  });
  await knex.schema.alterTable('jobs', (t) => {
    // What the job produced besides a file (publish: destination, video_id, url); null otherwise.
    t.jsonb('result');
  });
  await knex.raw(`
    ALTER TABLE jobs DROP CONSTRAINT jobs_kind_check;
    ALTER TABLE jobs ADD CONSTRAINT jobs_kind_check CHECK (kind IN ('render','tts','image','export','deletion','publish'));
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    DELETE FROM jobs WHERE kind = 'publish';
    ALTER TABLE jobs DROP CONSTRAINT jobs_kind_check;
    ALTER TABLE jobs ADD CONSTRAINT jobs_kind_check CHECK (kind IN ('render','tts','image','export','deletion'));
  `);
  await knex.schema.alterTable('jobs', (t) => t.dropColumn('result'));
  await knex.schema.dropTable('youtube_oauth_states');
  await knex.schema.dropTable('youtube_connections');
}
