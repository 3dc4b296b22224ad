import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStripeClient } from '../../../shared/billing/stripe-client.ts';
import { createLogger } from '../../../shared/logging/logger.ts';
import { loadPlanCatalogue } from '../../../shared/metering/plans.ts';
import { type FakeStripe, startFakeStripe } from '../../../shared/testing/fake-stripe.ts';
import { present } from '../../../shared/testing/present.ts';
import { createTestEnv, type TestEnv } from '../../../shared/testing/test-env.ts';
import { createAccountBilling } from './close-billing.ts';

let env: TestEnv;
let stripe: FakeStripe;
beforeAll(async () => {
  env = await createTestEnv();
  stripe = await startFakeStripe();
});
afterAll(async () => {
  await stripe.close();
  await env.cleanup();
});

function billing() {
  const client = createStripeClient({ secretKey: 'sk_test_close', apiUrl: stripe.url, maxNetworkRetries: 0 });
  return createAccountBilling({
    db: env.db,
    stripe: client,
    plans: loadPlanCatalogue(undefined),
    logger: createLogger('silent', 't'),
  });
}

describe('closing a deleted tenant’s billing', () => {
  it('when usage is unreported, then it is reported first and the customer deleted after; a second call is a no-op', async () => {
    stripe.customers.set('cus_close', { id: 'cus_close', object: 'customer' });
    await env
      .db('tenants')
      .insert({ id: 'ten_close', name: 'Closing', stripe_customer_id: 'cus_close', plan: 'pro' });
    await env.db('usage_events').insert([
      {
        id: 'evt_close1',
        tenant_id: 'ten_close',
        job_id: 'job_c1',
        step: 'compose',
        metric: 'render_seconds',
        quantity: 12.5,
      },
      {
        id: 'evt_close2',
        tenant_id: 'ten_close',
        job_id: 'job_c1',
        step: 'tts',
        metric: 'tts_seconds',
        quantity: 3,
      },
    ]);
    await billing().deleteCustomer('ten_close', new AbortController().signal);
    expect(stripe.meterEvents.map((e) => e.identifier).sort()).toEqual(['evt_close1', 'evt_close2']);
    expect(stripe.customers.has('cus_close')).toBe(false);
    const deleteAt = stripe.requests.findIndex((r) => r.method === 'DELETE');
    const lastMeter = stripe.requests.map((r) => r.path).lastIndexOf('/v1/billing/meter_events');
    expect(deleteAt).toBeGreaterThan(lastMeter);
    expect(present(await env.db('tenants').where({ id: 'ten_close' }).first()).stripe_customer_id).toBeNull();
    const before = stripe.requests.length;
    await billing().deleteCustomer('ten_close', new AbortController().signal);
    expect(stripe.requests.length).toBe(before); // nothing left to report or delete
  });

  it('when Stripe is down, then the customer is kept and the call throws so the deletion retries', async () => {
    stripe.customers.set('cus_down', { id: 'cus_down', object: 'customer' });
    await env
      .db('tenants')
      .insert({ id: 'ten_down', name: 'Down', stripe_customer_id: 'cus_down', plan: 'pro' });
    await env.db('usage_events').insert({
      id: 'evt_down1',
      tenant_id: 'ten_down',
      job_id: 'job_d1',
      step: 'compose',
      metric: 'render_seconds',
      quantity: 5,
    });
    stripe.failNext(50, 500, '/v1/billing/meter_events');
    await expect(billing().deleteCustomer('ten_down', new AbortController().signal)).rejects.toThrow(
      /not reported/,
    );
    expect(stripe.customers.has('cus_down')).toBe(true);
    stripe.clearFaults();
  });
});
