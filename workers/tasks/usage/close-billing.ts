import type { Knex } from 'knex';
import type { Stripe } from '../../../shared/billing/stripe-client.ts';
import { stripeStatus } from '../../../shared/billing/stripe-client.ts';
import { reportUsageBatch } from '../../../shared/billing/usage-reporter.ts';
import type { Logger } from '../../../shared/logging/logger.ts';
import type { PlanCatalogue } from '../../../shared/metering/plans.ts';
import type { AccountBilling } from '../../jobs/step.ts';

/**
 * Billing's part of an account deletion: report the tenant's last usage, then delete its
 * Stripe customer. Idempotent (a resumed deletion calls it again): a customer already gone
 * (404) counts as deleted. If usage is still unreported (Stripe down), it throws so the
 * deletion step retries later rather than losing billable usage.
 */
export function createAccountBilling(deps: {
  db: Knex;
  stripe: Stripe | null;
  plans: PlanCatalogue;
  logger: Logger;
}): AccountBilling {
  return {
    async deleteCustomer(tenantId, signal) {
      const { db, stripe } = deps;
      if (!stripe) return;
      const tenant = await db('tenants').select('stripe_customer_id').where({ id: tenantId }).first();
      const customer = tenant?.stripe_customer_id;
      if (!customer) return;
      const pending = async () =>
        Number(
          (
            await db('usage_events')
              .where({ tenant_id: tenantId })
              .whereNull('reported_at')
              .count({ n: '*' })
              .first()
          )?.n ?? 0,
        );
      for (let i = 0; i < 20 && (await pending()) > 0; i++) {
        signal.throwIfAborted();
        const r = await reportUsageBatch({
          db,
          stripe,
          plans: deps.plans,
          logger: deps.logger,
          batchSize: 500,
        });
        if (r.deferred > 0) break;
      }
      const left = await pending();
      if (left > 0)
        throw new Error(
          `${left} usage rows are not reported to Stripe yet; retrying before the customer is deleted`,
        );
      try {
        await stripe.customers.del(customer);
      } catch (err) {
        if (stripeStatus(err) !== 404) throw err;
      }
      await db('tenants').update({ stripe_customer_id: null }).where({ id: tenantId });
      deps.logger.info({ tenant_id: tenantId }, 'stripe customer deleted');
    },
  };
}
