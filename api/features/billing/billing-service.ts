import type { Knex } from 'knex';
import { type AuditEntry, appendAudit } from '../../../shared/audit/audit-log.ts';
import { type Stripe, stripeStatus } from '../../../shared/billing/stripe-client.ts';
import {
  ConflictError,
  NotFoundError,
  UnavailableError,
  ValidationError,
} from '../../../shared/errors/http-errors.ts';
import type { PlanCatalogue } from '../../../shared/metering/plans.ts';
import { effectivePlanName, graceEndsAt } from '../../../shared/metering/tenant-plan.ts';
import type { BillingStore } from './billing-store.ts';

export interface BillingServiceDeps {
  db: Knex;
  store: BillingStore;
  plans: PlanCatalogue;
  /** Null in local-ledger mode (no STRIPE_SECRET_KEY). */
  stripe: Stripe | null;
  publicUrl: string;
}

const LOCAL_MODE =
  'Billing runs in local-ledger mode on this deployment (STRIPE_SECRET_KEY is not set): usage is metered and limits apply, but there is no Checkout, portal or invoice';

/**
 * Stripe being down, slow or rate limiting is an outage on our side of the contract (503 with
 * Retry-After), not a bug (500). Stripe's 4xx answers are bugs or configuration: they stay 500.
 */
async function viaStripe<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    const status = stripeStatus(err);
    if (status === undefined || status === 429 || status >= 500) {
      throw new UnavailableError('Stripe did not answer; try again shortly', 10);
    }
    throw err;
  }
}

/** Checkout, portal, subscription and invoices: the use cases behind `/v1/billing/*`. */
export function createBillingService(deps: BillingServiceDeps) {
  const { db, store, plans } = deps;

  const requireStripe = (): Stripe => {
    if (!deps.stripe) throw new UnavailableError(LOCAL_MODE, 3600);
    return deps.stripe;
  };

  const tenantOf = async (tenantId: string) => {
    const t = await store.tenant(db, tenantId);
    if (!t) throw new NotFoundError('Tenant not found');
    return t;
  };

  /**
   * The tenant's Stripe customer, created once: the idempotency key is derived from our tenant
   * id, so concurrent or retried calls within Stripe's 24 h key window get the same customer.
   */
  const ensureCustomer = async (tenantId: string): Promise<string> => {
    const stripe = requireStripe();
    const t = await tenantOf(tenantId);
    if (t.stripe_customer_id) return t.stripe_customer_id;
    const email = await store.ownerEmail(db, tenantId);
    const customer = await viaStripe(() =>
      stripe.customers.create(
        { name: t.name, ...(email ? { email } : {}), metadata: { tenant_id: tenantId } },
        { idempotencyKey: `customer-${tenantId}` },
      ),
    );
    return db.transaction((trx) => store.linkCustomer(trx, tenantId, customer.id));
  };

  return {
    ensureCustomer,

    /** A Stripe Checkout session for a subscription to `planName` (base price + metered prices). */
    async checkout(
      tenantId: string,
      planName: string,
      actor: Omit<AuditEntry, 'action'>,
    ): Promise<{ url: string }> {
      const stripe = requireStripe();
      if (!plans.has(planName))
        throw new ValidationError([{ path: '/plan', message: `unknown plan "${planName}"` }]);
      const plan = plans.get(planName);
      const metered = Object.values(plan.stripe.metered_prices);
      if (!plan.stripe.base_price && metered.length === 0) {
        throw new ValidationError(
          [
            {
              path: '/plan',
              message: `plan "${planName}" has no Stripe prices (stripe.base_price in the plan catalogue)`,
            },
          ],
          422,
        );
      }
      const t = await tenantOf(tenantId);
      if (t.stripe_subscription_id && ['active', 'trialing', 'past_due'].includes(t.subscription_status)) {
        throw new ConflictError(
          'This workspace already has a subscription: change plans in the billing portal',
        );
      }
      const customer = await ensureCustomer(tenantId);
      const meta = { tenant_id: tenantId, plan: planName };
      // A trial is for a workspace's first subscription: one that had a trial before pays at once.
      const trialDays = plan.trial_days && !t.trial_ends_at ? plan.trial_days : null;
      const session = await viaStripe(() =>
        stripe.checkout.sessions.create({
          mode: 'subscription',
          customer,
          client_reference_id: tenantId,
          metadata: meta,
          subscription_data: { metadata: meta, ...(trialDays ? { trial_period_days: trialDays } : {}) },
          // Metered prices take no quantity: Stripe bills them from the meter events.
          line_items: [
            ...(plan.stripe.base_price ? [{ price: plan.stripe.base_price, quantity: 1 }] : []),
            ...metered.map((price) => ({ price })),
          ],
          // Back to the dashboard's Billing page, which shows the new plan once the webhook lands.
          success_url: `${deps.publicUrl}/billing?checkout=done&session_id={CHECKOUT_SESSION_ID}`,
          cancel_url: `${deps.publicUrl}/billing?checkout=canceled`,
        }),
      );
      if (!session.url) throw new UnavailableError('Stripe returned no Checkout URL');
      await appendAudit(db, {
        ...actor,
        action: 'billing.checkout_started',
        metadata: { plan: planName, session: session.id, trial_days: trialDays },
      });
      return { url: session.url };
    },

    async portal(tenantId: string): Promise<{ url: string }> {
      const stripe = requireStripe();
      const customer = await ensureCustomer(tenantId);
      const session = await viaStripe(() =>
        stripe.billingPortal.sessions.create({ customer, return_url: deps.publicUrl }),
      );
      return { url: session.url };
    },

    /** From Postgres (what webhooks applied), so it also answers in local-ledger mode. */
    async subscription(tenantId: string) {
      const t = await tenantOf(tenantId);
      return {
        plan: t.plan,
        // The plan whose limits apply now (past-due grace over, or cancellation reached its period end → free).
        effective_plan: effectivePlanName(t),
        status: t.subscription_status,
        current_period_end: t.current_period_end?.toISOString() ?? null,
        cancel_at_period_end: t.cancel_at_period_end,
        past_due_since: t.past_due_since?.toISOString() ?? null,
        grace_ends_at: graceEndsAt(t)?.toISOString() ?? null,
        plan_changed_at: t.plan_changed_at?.toISOString() ?? null,
        // While `status` is `trialing`, the plan's limits apply and nothing is charged until then.
        trial_ends_at: t.trial_ends_at?.toISOString() ?? null,
        billing_mode: deps.stripe ? 'stripe' : 'local',
        has_customer: t.stripe_customer_id !== null,
      };
    },

    async invoices(tenantId: string, limit: number, cursor?: string) {
      const stripe = requireStripe();
      const t = await tenantOf(tenantId);
      if (!t.stripe_customer_id) return { data: [], next_cursor: null };
      const customer = t.stripe_customer_id;
      const page = await viaStripe(() =>
        stripe.invoices.list({ customer, limit, ...(cursor ? { starting_after: cursor } : {}) }),
      );
      const data = page.data.map((i) => ({
        id: i.id,
        number: i.number,
        status: i.status,
        currency: i.currency,
        amount_due: i.amount_due,
        amount_paid: i.amount_paid,
        created: new Date(i.created * 1000).toISOString(),
        period_start: new Date(i.period_start * 1000).toISOString(),
        period_end: new Date(i.period_end * 1000).toISOString(),
        hosted_invoice_url: i.hosted_invoice_url ?? null,
        invoice_pdf: i.invoice_pdf ?? null,
      }));
      return { data, next_cursor: page.has_more ? (data.at(-1)?.id ?? null) : null };
    },
  };
}

export type BillingService = ReturnType<typeof createBillingService>;
