import { createHash } from 'node:crypto';

/**
 * What a deleted tenant is called in the records that must outlive it (the usage ledger kept
 * for invoices, the deletion receipt): `deleted_<first 32 hex of sha256(tenant id)>`. One-way,
 * yet whoever still holds the tenant id (an old invoice, the customer) can find its rows again.
 */
export function tenantPseudonym(tenantId: string): string {
  return `deleted_${createHash('sha256').update(tenantId).digest('hex').slice(0, 32)}`;
}
