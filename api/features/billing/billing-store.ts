import type { Knex } from 'knex';
import type { TableRow } from '../../../shared/db/tables.ts';
import { TENANT_BILLING_COLUMNS } from '../../../shared/metering/tenant-plan.ts';

type Db = Knex | Knex.Transaction;

export type TenantBillingRow = Pick<TableRow<'tenants'>, (typeof COLUMNS)[number]>;

export type SubscriptionPatch = Partial<
  Pick<
    TenantBillingRow,
    | 'plan'
    | 'subscription_status'
    | 'stripe_subscription_id'
    | 'current_period_end'
    | 'cancel_at_period_end'
    | 'past_due_since'
    | 'stripe_state_at'
    | 'plan_changed_at'
    | 'trial_ends_at'
  >
>;

const COLUMNS = [
  'id',
  'name',
  ...TENANT_BILLING_COLUMNS,
  'stripe_customer_id',
  'stripe_subscription_id',
  'stripe_state_at',
  'plan_changed_at',
  'trial_ends_at',
] as const;

/** SQL of the billing feature: the tenant's Stripe state and the processed-event ledger. */
export function createBillingStore() {
  return {
    /** The tenant's billing row; `lock` takes it FOR UPDATE (webhooks of one tenant apply one at a time). */
    async tenant(db: Db, tenantId: string, lock = false): Promise<TenantBillingRow | undefined> {
      const q = db('tenants')
        .select(...COLUMNS)
        .where({ id: tenantId })
        .first();
      return lock ? q.forUpdate() : q;
    },

    async tenantByCustomer(db: Db, customerId: string, lock = false): Promise<TenantBillingRow | undefined> {
      const q = db('tenants')
        .select(...COLUMNS)
        .where({ stripe_customer_id: customerId })
        .first();
      return lock ? q.forUpdate() : q;
    },

    /**
     * Stores the tenant's Stripe customer unless it already has one, and returns the one it has.
     * Usage recorded before the tenant had a customer was never billable: it is closed in the
     * ledger (`before_billing`) so the reporter does not send last month's free usage to Stripe.
     */
    async linkCustomer(trx: Knex.Transaction, tenantId: string, customerId: string): Promise<string> {
      const updated = await trx('tenants')
        .where({ id: tenantId })
        .whereNull('stripe_customer_id')
        .update({ stripe_customer_id: customerId })
        .returning('stripe_customer_id');
      if (updated.length === 0) {
        const row = await trx('tenants').select('stripe_customer_id').where({ id: tenantId }).first();
        return row?.stripe_customer_id ?? customerId;
      }
      await trx('usage_events')
        .where({ tenant_id: tenantId })
        .whereNull('reported_at')
        .update({ reported_at: trx.fn.now(), report_outcome: 'before_billing' });
      return customerId;
    },

    async ownerEmail(db: Db, tenantId: string): Promise<string | undefined> {
      const row = await db('memberships as m')
        .join('users as u', 'u.id', 'm.user_id')
        .select('u.email')
        .where({ 'm.tenant_id': tenantId, 'm.role': 'owner' })
        .orderBy('m.created_at')
        .first();
      return row?.email as string | undefined;
    },

    /**
     * Claims a Stripe event id. False: it was processed before (the claim waits for a concurrent
     * delivery of the same event to commit, then loses).
     */
    async claimEvent(trx: Knex.Transaction, id: string, type: string): Promise<boolean> {
      const rows = await trx('stripe_events')
        .insert({ id, type, outcome: 'processing' })
        .onConflict('id')
        .ignore()
        .returning('id');
      return rows.length > 0;
    },

    async finishEvent(
      trx: Knex.Transaction,
      id: string,
      outcome: string,
      tenantId: string | null,
    ): Promise<void> {
      await trx('stripe_events').where({ id }).update({ outcome, tenant_id: tenantId });
    },

    async updateSubscription(
      trx: Knex.Transaction,
      tenantId: string,
      patch: SubscriptionPatch,
    ): Promise<void> {
      await trx('tenants').where({ id: tenantId }).update(patch);
    },
  };
}

export type BillingStore = ReturnType<typeof createBillingStore>;
