import { rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { type FakeStripe, signedWebhook, startFakeStripe } from '../../../shared/testing/fake-stripe.ts';
import { type HttpResult, startTestApi, type TestApi } from '../../testing/api-harness.ts';

export const WEBHOOK_SECRET = 'whsec_test_rendermill_billing';

/** Small limits and Stripe price ids, as a deployment's PLANS_FILE would have them. */
export const BILLING_PLANS = {
  free: {
    limits: { render_seconds: 100, tts_seconds: 1000, images: 100, storage_bytes: null },
    max_resolution: '1080p',
    overage: false,
  },
  pro: {
    limits: { render_seconds: 1000, tts_seconds: 5000, images: 1000, storage_bytes: null },
    max_resolution: '2160p',
    overage: true,
    stripe: {
      base_price: 'price_pro_base',
      metered_prices: {
        render_seconds: 'price_pro_render',
        tts_seconds: 'price_pro_tts',
        images: 'price_pro_images',
      },
    },
  },
  enterprise: {
    limits: { render_seconds: null, tts_seconds: null, images: null, storage_bytes: null },
    max_resolution: '2160p',
    overage: false,
  },
};

export interface BillingTestKit {
  t: TestApi;
  stripe: FakeStripe;
  /** POSTs a signed event to /v1/webhooks/stripe. */
  deliver(
    event: Record<string, unknown>,
    opts?: { timestamp?: number; secret?: string; tamper?: (body: string) => string },
  ): Promise<HttpResult>;
  close(): Promise<void>;
}

/** The real API pointed at a fake Stripe (STRIPE_API_URL), with a webhook secret and PLANS_FILE. */
export async function startBillingTestKit(
  plans: Record<string, unknown> = BILLING_PLANS,
  overrides: Record<string, string> = {},
): Promise<BillingTestKit> {
  const stripe = await startFakeStripe();
  const plansFile = path.join(os.tmpdir(), `plans-billing-${process.pid}-${Date.now()}.json`);
  await writeFile(plansFile, JSON.stringify(plans));
  const t = await startTestApi({
    PLANS_FILE: plansFile,
    STRIPE_SECRET_KEY: 'sk_test_rendermill',
    STRIPE_API_URL: stripe.url,
    STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
    RATE_LIMIT_PER_MINUTE: '100000',
    RATE_LIMIT_BURST_PER_SECOND: '10000',
    ...overrides,
  });
  return {
    t,
    stripe,
    deliver(event, opts = {}) {
      const signed = signedWebhook(event, opts.secret ?? WEBHOOK_SECRET, { timestamp: opts.timestamp });
      const body = opts.tamper ? opts.tamper(signed.body) : signed.body;
      return t.call('POST', '/v1/webhooks/stripe', {
        raw: body,
        headers: { 'stripe-signature': signed.signature, 'content-type': 'application/json' },
      });
    },
    async close() {
      await t.close();
      await stripe.close();
      await rm(plansFile, { force: true });
    },
  };
}

let seq = 0;
/** A Stripe event envelope around `object`; `created` in unix seconds (default now). */
export function stripeEvent(type: string, object: Record<string, unknown>, created?: number) {
  seq += 1;
  return {
    id: `evt_test_${Date.now()}_${seq}`,
    object: 'event',
    type,
    created: created ?? Math.floor(Date.now() / 1000),
    api_version: '2026-10-28.endive',
    livemode: false,
    data: { object },
  };
}

/** A subscription as Stripe's webhooks show it (period end on the items, API ≥ 2025-03-31). */
export function subscription(o: {
  id: string;
  customer: string;
  status: string;
  plan?: string;
  tenantId?: string;
  periodEnd?: number;
  cancelAtPeriodEnd?: boolean;
}) {
  const periodEnd = o.periodEnd ?? Math.floor(Date.now() / 1000) + 30 * 86_400;
  return {
    id: o.id,
    object: 'subscription',
    customer: o.customer,
    status: o.status,
    cancel_at_period_end: o.cancelAtPeriodEnd ?? false,
    metadata: { ...(o.plan ? { plan: o.plan } : {}), ...(o.tenantId ? { tenant_id: o.tenantId } : {}) },
    items: {
      object: 'list',
      data: [
        { id: 'si_base', current_period_end: periodEnd, price: { id: 'price_pro_base', lookup_key: null } },
        {
          id: 'si_render',
          current_period_end: periodEnd,
          price: { id: 'price_pro_render', lookup_key: null },
        },
      ],
    },
  };
}
