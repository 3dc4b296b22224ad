import type { Knex } from 'knex';
import type { Role } from '../../shared/auth/roles.ts';
import { hashSecret, newSecret } from '../../shared/crypto/tokens.ts';
import { newId } from '../../shared/ids/ids.ts';
import type { Metric } from '../../shared/jobs/estimate.ts';
import { type Storage, tenantKey } from '../../shared/storage/storage.ts';
import { newWebhookSecret } from '../../shared/webhooks/signing.ts';

export interface SeededUser {
  id: string;
  email: string;
}

export interface SeededTenant {
  tenantId: string;
  label: string;
  owner: SeededUser;
  admin: SeededUser;
  member: SeededUser;
  /** Jobs by what they exercise */
  jobs: { done: string; queued: string; running: string };
  /** Storage keys under the tenant prefix */
  keys: { output: string; cache: string; oldExport: string };
  /** Every clear-text secret and stored hash the tenant has: none may leave in an export */
  secrets: string[];
}

const now = () => new Date();
const ago = (ms: number) => new Date(Date.now() - ms);

async function user(db: Knex, email: string): Promise<SeededUser> {
  const found = await db('users').select('id', 'email').where({ email }).first();
  if (found) return found;
  const u = { id: newId('usr'), email };
  await db('users').insert(u);
  return u;
}

/**
 * A tenant holding one of everything the account features touch — members and a shared user,
 * sessions with refresh tokens, API keys, invites and sign-in links (all hashed, as in
 * production), jobs with steps, usage, idempotency keys, callbacks, a usage counter, audit
 * entries, and files under its storage prefix — inserted straight into the database.
 */
export async function seedTenant(
  db: Knex,
  storage: Storage,
  opts: { label: string; sharedUser?: SeededUser },
): Promise<SeededTenant> {
  const tenantId = newId('ten');
  const webhookSecret = newWebhookSecret();
  await db('tenants').insert({ id: tenantId, name: `Team ${opts.label}`, webhook_secret: webhookSecret });
  const owner = await user(db, `owner.${opts.label}@example.com`);
  const admin = await user(db, `admin.${opts.label}@example.com`);
  const member = await user(db, `member.${opts.label}@example.com`);
  const roles: Array<[SeededUser, Role]> = [
    [owner, 'owner'],
    [admin, 'admin'],
    [member, 'member'],
  ];
  if (opts.sharedUser) roles.push([opts.sharedUser, 'viewer']);
  for (const [u, role] of roles) await db('memberships').insert({ tenant_id: tenantId, user_id: u.id, role });

  const secrets: string[] = [webhookSecret];
  for (const [u] of roles) {
    const sessionId = newId('ses');
    await db('sessions').insert({
      id: sessionId,
      user_id: u.id,
      tenant_id: tenantId,
      expires_at: new Date(Date.now() + 86_400_000),
      ip: '203.0.113.7',
      user_agent: `agent-${opts.label}`,
    });
    const refresh = newSecret('rt_');
    await db('refresh_tokens').insert({
      id: newId('rt'),
      session_id: sessionId,
      token_hash: hashSecret(refresh),
      expires_at: new Date(Date.now() + 86_400_000),
    });
    secrets.push(refresh, hashSecret(refresh));
  }
  const apiKey = newSecret('rm_live_', 32);
  await db('api_keys').insert({
    id: newId('key'),
    tenant_id: tenantId,
    created_by: owner.id,
    name: 'ci',
    role: 'member',
    prefix: apiKey.slice(0, 12),
    key_hash: hashSecret(apiKey),
    last4: apiKey.slice(-4),
  });
  secrets.push(apiKey, hashSecret(apiKey));
  const invite = newSecret('', 32);
  const login = newSecret('', 32);
  await db('magic_link_tokens').insert([
    {
      id: newId('mlt'),
      token_hash: hashSecret(invite),
      email: `invitee.${opts.label}@example.com`,
      purpose: 'invite',
      tenant_id: tenantId,
      role: 'member',
      invited_by: owner.id,
      expires_at: new Date(Date.now() + 86_400_000),
    },
    {
      id: newId('mlt'),
      token_hash: hashSecret(login),
      email: member.email,
      purpose: 'login',
      expires_at: new Date(Date.now() + 600_000),
    },
  ]);
  secrets.push(invite, hashSecret(invite), login, hashSecret(login));

  const jobs = { done: newId('job'), queued: newId('job'), running: newId('job') };
  const keys = {
    output: tenantKey(tenantId, 'outputs', `${jobs.done}.mp4`),
    cache: tenantKey(tenantId, 'cache', 'abc123.wav'),
    oldExport: tenantKey(tenantId, 'exports', 'job_old.zip'),
  };
  await storage.putBuffer(keys.output, Buffer.from(`video of ${opts.label} `.repeat(200)));
  await storage.putBuffer(keys.cache, Buffer.from('cached speech'));
  await storage.putBuffer(keys.oldExport, Buffer.from('an earlier export'));
  const base = { tenant_id: tenantId, created_by: owner.id, estimate: '{}', metadata: '{"project":"x"}' };
  await db('jobs').insert([
    {
      ...base,
      id: jobs.done,
      kind: 'render',
      status: 'succeeded',
      progress: 1,
      attempts: 1,
      payload: JSON.stringify({ scenes: [{ text: `Hello from ${opts.label}` }] }),
      callback_url: 'https://hooks.example.com/rendermill',
      output_key: keys.output,
      output_content_type: 'video/mp4',
      output_bytes: (await storage.stat(keys.output))?.bytes ?? 0,
      output_expires_at: new Date(Date.now() + 86_400_000),
      created_at: ago(60_000),
      started_at: ago(59_000),
      finished_at: ago(50_000),
    },
    { ...base, id: jobs.queued, kind: 'tts', payload: '{"text":"later"}', created_at: ago(30_000) },
    {
      ...base,
      id: jobs.running,
      kind: 'image',
      status: 'running',
      payload: '{"title":"now"}',
      created_at: ago(20_000),
    },
  ]);
  await db('job_steps').insert(
    ['tts', 'images', 'compose'].map((name, position) => ({
      job_id: jobs.done,
      name,
      position,
      status: 'succeeded',
      result: JSON.stringify({ step: name }),
      started_at: ago(58_000),
      finished_at: ago(55_000),
    })),
  );
  const usage: Array<[string, Metric, number]> = [
    ['tts', 'tts_seconds', 3.2],
    ['images', 'images', 1],
    ['compose', 'render_seconds', 4.5],
  ];
  await db('usage_events').insert(
    usage.map(([step, metric, quantity]) => ({
      id: newId('evt'),
      tenant_id: tenantId,
      job_id: jobs.done,
      step,
      metric,
      quantity,
      occurred_at: now(),
    })),
  );
  await db('idempotency_keys').insert({
    tenant_id: tenantId,
    key: `idem-${opts.label}`,
    request_hash: 'h',
    job_id: jobs.done,
    expires_at: new Date(Date.now() + 86_400_000),
  });
  await db('webhook_deliveries').insert({
    id: newId('dlv'),
    tenant_id: tenantId,
    job_id: jobs.done,
    event: 'job.succeeded',
    url: 'https://hooks.example.com/rendermill',
    payload: JSON.stringify({ type: 'job.succeeded', data: { job: { id: jobs.done } } }),
    status: 'delivered',
    attempts: 1,
    last_status_code: 200,
    delivered_at: now(),
  });
  await db('usage_counters').insert({
    tenant_id: tenantId,
    period_start: '2026-11-01',
    metric: 'images',
    used: 1,
  });
  await db('audit_log').insert(
    ['tenant.created', 'member.role_changed', 'api_key.created'].map((action) => ({
      tenant_id: tenantId,
      actor_type: 'user',
      actor_id: owner.id,
      action,
      ip: '203.0.113.7',
      metadata: JSON.stringify({ email: member.email }),
    })),
  );
  return { tenantId, label: opts.label, owner, admin, member, jobs, keys, secrets };
}
