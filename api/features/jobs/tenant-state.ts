import type { Knex } from 'knex';
import { TENANT_BILLING_COLUMNS, type TenantBilling } from '../../../shared/metering/tenant-plan.ts';
import type { DefaultEndpoint } from '../../../shared/webhooks/deliveries.ts';
import { type CacheOptions, createTenantCache, type Generation } from '../auth/auth-cache.ts';

/** What a submit needs to know about its tenant: the billing columns that pick the plan, and the default endpoint. */
export interface TenantState {
  billing: TenantBilling;
  endpoint: DefaultEndpoint | null;
}

/**
 * Reads a tenant's state in one statement, through the auth cache at the request's tenant
 * generation: plan changes (Stripe webhooks) and endpoint changes bump it, so a cached state is
 * never older than the last change. `generation` undefined (Redis could not say): read, do not cache.
 */
export function createTenantStateReader(deps: { db: Knex; cache: CacheOptions }) {
  const cache = createTenantCache<TenantState & { tenantId: string }>({
    ...deps.cache,
    tenantOf: (s) => s.tenantId,
  });
  const load = async (tenantId: string): Promise<(TenantState & { tenantId: string }) | null> => {
    const row = await deps
      .db('tenants as t')
      .leftJoin('webhook_endpoints as w', 'w.tenant_id', 't.id')
      .select(...TENANT_BILLING_COLUMNS.map((c) => `t.${c}`), 'w.url', 'w.events')
      .where('t.id', tenantId)
      .first();
    if (!row) return null;
    const billing: TenantBilling = {
      plan: row.plan,
      subscription_status: row.subscription_status,
      past_due_since: row.past_due_since,
      current_period_end: row.current_period_end,
      cancel_at_period_end: row.cancel_at_period_end,
    };
    return { tenantId, billing, endpoint: row.url ? { url: row.url, events: row.events ?? null } : null };
  };
  return async (tenantId: string, generation: Generation): Promise<TenantState> => {
    const hit = await cache.get(tenantId, generation, () => load(tenantId));
    if (!hit) throw new Error(`tenant ${tenantId} not found`);
    return hit.value;
  };
}

export type TenantStateReader = ReturnType<typeof createTenantStateReader>;
