import type { Knex } from 'knex';

/** Addresses of a tenant's owners, sorted: billing, quota, export and deletion mail goes to them. */
export async function ownerEmails(db: Knex | Knex.Transaction, tenantId: string): Promise<string[]> {
  const rows = (await db('memberships as m')
    .join('users as u', 'u.id', 'm.user_id')
    .select('u.email')
    .where({ 'm.tenant_id': tenantId, 'm.role': 'owner' })
    .orderBy('u.email')) as Array<{ email: string }>;
  return rows.map((r) => r.email);
}
