import type { Knex } from 'knex';
import { createJobRepository } from '../../../shared/jobs/job-repository.ts';

type Scope = (q: Knex.QueryBuilder) => void;

/** One kind of tenant data the deletion counts and erases: a table and the rows of the tenant in it. */
export interface TenantData {
  /** Key in the deletion receipt's counts */
  kind: string;
  table: string;
  scope: Scope;
}

/**
 * Tables erased by name, children before parents. The running deletion job (`selfJobId`) and
 * its steps stay until the last step: the job runner records progress in them.
 */
function namedData(db: Knex, tenantId: string, selfJobId: string): TenantData[] {
  const byTenant: Scope = (q) => q.where('tenant_id', tenantId);
  return [
    {
      kind: 'refresh_tokens',
      table: 'refresh_tokens',
      scope: (q) => q.whereIn('session_id', db('sessions').select('id').where('tenant_id', tenantId)),
    },
    { kind: 'sessions', table: 'sessions', scope: byTenant },
    { kind: 'api_keys', table: 'api_keys', scope: byTenant },
    { kind: 'invites', table: 'magic_link_tokens', scope: byTenant },
    { kind: 'idempotency_keys', table: 'idempotency_keys', scope: byTenant },
    { kind: 'webhook_deliveries', table: 'webhook_deliveries', scope: byTenant },
    // The job repository names the rows of `job_steps` and `jobs` (children first).
    ...createJobRepository().tenantRows(db, tenantId, selfJobId),
    { kind: 'audit_log', table: 'audit_log', scope: byTenant },
  ];
}

/**
 * Kept, pseudonymised, not erased: the usage ledger (invoices must be reproducible). Erased last
 * by the final step: memberships, users, the tenant itself. Everything else with a `tenant_id`
 * column — including tables added after this file (metering's counters, reservations, alerts,
 * Stripe event markers) — is erased by discovery, so a new table cannot be forgotten. A table
 * whose rows must outlive the tenant has to be listed here on purpose.
 */
const NOT_SWEPT = new Set(['usage_events', 'memberships', 'tenants', 'deletion_receipts']);

/** Every kind of data the deletion erases before its final step, in erase order. */
export async function tenantData(db: Knex, tenantId: string, selfJobId: string): Promise<TenantData[]> {
  const named = namedData(db, tenantId, selfJobId);
  const known = new Set([...NOT_SWEPT, ...named.map((d) => d.table)]);
  const { rows } = await db.raw(
    `SELECT c.table_name FROM information_schema.columns c
       JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
      WHERE c.table_schema = current_schema() AND c.column_name = 'tenant_id' AND t.table_type = 'BASE TABLE'
      ORDER BY c.table_name`,
  );
  const discovered = (rows as Array<{ table_name: string }>)
    .map((r) => r.table_name)
    .filter((t) => !known.has(t))
    .map((table) => ({ kind: table, table, scope: ((q) => q.where('tenant_id', tenantId)) as Scope }));
  // Discovered tables first: they may reference jobs (reservations) but nothing references them.
  return [...discovered, ...named];
}

export async function countRows(db: Knex | Knex.Transaction, d: TenantData): Promise<number> {
  const [row] = await db(d.table).where(d.scope).count({ n: '*' });
  return Number(row?.n ?? 0);
}

/**
 * Deletes in batches so no statement runs into the statement timeout or holds locks for long,
 * and a crash loses at most one batch of progress (the next run finds fewer rows, not an error).
 */
export async function eraseRows(db: Knex, d: TenantData, signal: AbortSignal, batch = 5000): Promise<number> {
  let total = 0;
  for (;;) {
    signal.throwIfAborted();
    const n = await db(d.table)
      .whereIn('ctid', db(d.table).select('ctid').where(d.scope).limit(batch))
      .delete();
    total += n;
    if (n < batch) return total;
  }
}

/** Members who belong to no other tenant: their user rows go with this tenant. */
export async function usersToErase(
  db: Knex | Knex.Transaction,
  tenantId: string,
): Promise<Array<{ id: string; email: string }>> {
  return db('memberships as m')
    .join('users as u', 'u.id', 'm.user_id')
    .select('u.id', 'u.email')
    .where('m.tenant_id', tenantId)
    .whereNotExists(
      db('memberships as o')
        .select(db.raw('1'))
        .whereRaw('o.user_id = m.user_id')
        .whereNot('o.tenant_id', tenantId),
    )
    .orderBy('u.id');
}

export { ownerEmails } from '../../../shared/account/owner-emails.ts';
