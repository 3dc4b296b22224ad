import type { Knex } from 'knex';
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
