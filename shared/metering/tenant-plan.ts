import type { Knex } from 'knex';
import type { TableRow } from '../db/tables.ts';
import type { Plan, PlanCatalogue } from './plans.ts';

/** A failed payment keeps the paid plan this long; then the tenant gets the free plan's limits. */
export const PAST_DUE_GRACE_MS = 7 * 24 * 3600 * 1000;

/** The billing columns of a tenant row that decide which plan's limits apply. */
export type TenantBilling = Pick<TableRow<'tenants'>, (typeof TENANT_BILLING_COLUMNS)[number]>;

export const TENANT_BILLING_COLUMNS = [
  'plan',
  'subscription_status',
  'past_due_since',
  'current_period_end',
  'cancel_at_period_end',
] as const;

// Statuses in which Stripe no longer collects money for the subscription.
const ENDED = new Set(['canceled', 'unpaid', 'incomplete_expired', 'paused']);

/**
 * The plan whose limits apply now. `tenants.plan` is what the tenant subscribed to; this also
 * applies the past-due grace period and a cancellation that reached its period end even if
 * Stripe's `customer.subscription.deleted` has not arrived yet.
 */
export function effectivePlanName(t: TenantBilling, now = new Date()): string {
  if (t.plan === 'free') return 'free';
  if (ENDED.has(t.subscription_status)) return 'free';
  if (
    t.subscription_status === 'past_due' &&
    t.past_due_since &&
    now.getTime() - t.past_due_since.getTime() > PAST_DUE_GRACE_MS
  ) {
    return 'free';
  }
  if (t.cancel_at_period_end && t.current_period_end && t.current_period_end.getTime() <= now.getTime()) {
    return 'free';
  }
  return t.plan;
}

/** The date the past-due grace ends, or null when the tenant is not past due. */
export function graceEndsAt(t: TenantBilling): Date | null {
  if (t.subscription_status !== 'past_due' || !t.past_due_since) return null;
  return new Date(t.past_due_since.getTime() + PAST_DUE_GRACE_MS);
}

/**
 * The plan that applies to a tenant now, read from Postgres (never from a token). Throws when
 * the tenant does not exist.
 */
export async function tenantPlan(
  db: Knex | Knex.Transaction,
  plans: PlanCatalogue,
  tenantId: string,
  now = new Date(),
): Promise<Plan> {
  const row = await db('tenants')
    .select(...TENANT_BILLING_COLUMNS)
    .where({ id: tenantId })
    .first();
  if (!row) throw new Error(`tenant ${tenantId} not found`);
  return plans.get(effectivePlanName(row, now));
}
