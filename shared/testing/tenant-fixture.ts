import type { Knex } from 'knex';
import { hashSecret } from '../crypto/tokens.ts';
import { newId } from '../ids/ids.ts';

/** Inserts a tenant (and optionally an owner) straight into the database, for tests below the HTTP layer. */
export async function insertTenant(
  db: Knex,
  opts: { plan?: string; ownerEmail?: string; columns?: Record<string, unknown> } = {},
): Promise<string> {
  const id = newId('ten');
  await db('tenants').insert({ id, name: `Tenant ${id}`, plan: opts.plan ?? 'free', ...opts.columns });
  if (opts.ownerEmail) {
    const userId = newId('usr');
    await db('users').insert({ id: userId, email: opts.ownerEmail.toLowerCase() });
    await db('memberships').insert({ tenant_id: id, user_id: userId, role: 'owner' });
  }
  return id;
}

/** Inserts an API key `key` (`rm_live_…`) for a tenant, stored as the API stores keys: hashed, with its prefix and last 4. */
export async function insertApiKey(
  db: Knex,
  opts: { tenantId: string; key: string; name: string; role?: 'viewer' | 'member' | 'admin' },
): Promise<void> {
  await db('api_keys').insert({
    id: newId('key'),
    tenant_id: opts.tenantId,
    name: opts.name,
    role: opts.role ?? 'member',
    prefix: opts.key.slice(0, 12),
    key_hash: hashSecret(opts.key),
    last4: opts.key.slice(-4),
  });
}
