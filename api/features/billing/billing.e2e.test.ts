import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../../shared/ids/ids.ts';
import { recordUsage } from '../../../shared/metering/usage-ledger.ts';
import { present } from '../../../shared/testing/present.ts';
import { type SignIn, startTestApi, type TestApi } from '../../testing/api-harness.ts';
import { type BillingTestKit, startBillingTestKit } from './billing-test-kit.ts';

let k: BillingTestKit;
beforeAll(async () => {
  k = await startBillingTestKit();
});
afterAll(async () => {
  await k.close();
});

async function apiKey(owner: SignIn, role: string): Promise<string> {
  const r = await k.t.call('POST', '/v1/api-keys', { token: owner.access_token, body: { name: role, role } });
  return r.body.key as string;
}

describe('checkout', () => {
  it('when an admin buys pro, then one Stripe customer is made for the tenant and Checkout gets its prices and metadata', async () => {
    const owner = await k.t.signIn('buyer@billing.example.com');
    const tenantId = owner.tenant.id;
    // Usage from before the tenant had a customer is not billable and must not be reported later.
    await k.t.env.db.transaction((trx) =>
      recordUsage(trx, [
        { tenantId, jobId: newId('job'), step: 'compose', metric: 'render_seconds', quantity: 5 },
      ]),
    );

    const [a, b] = await Promise.all([
      k.t.call('POST', '/v1/billing/checkout', { token: owner.access_token, body: { plan: 'pro' } }),
      k.t.call('POST', '/v1/billing/checkout', { token: owner.access_token, body: { plan: 'pro' } }),
    ]);
    expect(a.status).toBe(200);
    expect(b.status).toBe(200);
    expect(a.body.url).toMatch(/^https:\/\/checkout\.stripe\.test\/c\/pay\/cs_test_/);

    const customers = [...k.stripe.customers.values()].filter(
      (c) => (c.metadata as Record<string, string>).tenant_id === tenantId,
    );
    expect(customers).toHaveLength(1);
    const customerCalls = k.stripe.requests.filter((r) => r.path === '/v1/customers');
    expect(customerCalls.every((r) => r.headers['idempotency-key'] === `customer-${tenantId}`)).toBe(true);
    const tenant = present(await k.t.env.db('tenants').where({ id: tenantId }).first());
    expect(tenant.stripe_customer_id).toBe(customers[0]?.id);

    const session = k.stripe.requests.filter((r) => r.path === '/v1/checkout/sessions').at(-1);
    expect(session?.body).toMatchObject({
      mode: 'subscription',
      customer: tenant.stripe_customer_id,
      client_reference_id: tenantId,
      metadata: { tenant_id: tenantId, plan: 'pro' },
      subscription_data: { metadata: { tenant_id: tenantId, plan: 'pro' } },
      line_items: [
        { price: 'price_pro_base', quantity: '1' },
        { price: 'price_pro_render' },
        { price: 'price_pro_tts' },
        { price: 'price_pro_images' },
      ],
      success_url: 'http://rendermill.test/billing?checkout=done&session_id={CHECKOUT_SESSION_ID}',
    });
    const old = present(await k.t.env.db('usage_events').where({ tenant_id: tenantId }).first());
    expect(old.report_outcome).toBe('before_billing');
  });

  it('when the role, plan or subscription does not allow it, then checkout answers 403, 400, 422 or 409', async () => {
    const owner = await k.t.signIn('rules@billing.example.com');
    const member = await apiKey(owner, 'member');
    expect(
      (await k.t.call('POST', '/v1/billing/checkout', { token: member, body: { plan: 'pro' } })).status,
    ).toBe(403);
    const unknown = await k.t.call('POST', '/v1/billing/checkout', {
      token: owner.access_token,
      body: { plan: 'gold' },
    });
    expect(unknown.status).toBe(400);
    expect(unknown.body.errors).toEqual([{ path: '/plan', message: 'unknown plan "gold"' }]);
    const contract = await k.t.call('POST', '/v1/billing/checkout', {
      token: owner.access_token,
      body: { plan: 'enterprise' },
    });
    expect(contract.status).toBe(422);
    await k.t.env
      .db('tenants')
      .where({ id: owner.tenant.id })
      .update({ plan: 'pro', subscription_status: 'active', stripe_subscription_id: 'sub_existing' });
    const again = await k.t.call('POST', '/v1/billing/checkout', {
      token: owner.access_token,
      body: { plan: 'pro' },
    });
    expect(again.status).toBe(409);
  });

  it('when Stripe is down, then checkout answers 503 with Retry-After, not 500', async () => {
    const owner = await k.t.signIn('outage@billing.example.com');
    k.stripe.failNext(3, 500, '/v1/customers'); // the SDK retries twice
    const r = await k.t.call('POST', '/v1/billing/checkout', {
      token: owner.access_token,
      body: { plan: 'pro' },
    });
    expect(r.status).toBe(503);
    expect(r.body.code).toBe('unavailable');
    expect(r.headers.get('retry-after')).toBeTruthy();
    k.stripe.clearFaults();
  });
});

describe('portal, subscription and invoices', () => {
  it('when an admin opens the portal, then Stripe gets the customer and our return URL', async () => {
    const owner = await k.t.signIn('portal@billing.example.com');
    const r = await k.t.call('POST', '/v1/billing/portal', { token: owner.access_token });
    expect(r.status).toBe(200);
    expect(r.body.url).toMatch(/^https:\/\/billing\.stripe\.test\/p\/session\//);
    const call = k.stripe.requests.filter((q) => q.path === '/v1/billing_portal/sessions').at(-1);
    const tenant = present(await k.t.env.db('tenants').where({ id: owner.tenant.id }).first());
    expect(call?.body).toEqual({ customer: tenant.stripe_customer_id, return_url: 'http://rendermill.test' });
  });

  it('when a viewer reads the subscription, then it sees plan, status and billing mode', async () => {
    const owner = await k.t.signIn('status@billing.example.com');
    const viewer = await apiKey(owner, 'viewer');
    const r = await k.t.call('GET', '/v1/billing/subscription', { token: viewer });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({
      plan: 'free',
      effective_plan: 'free',
      status: 'none',
      cancel_at_period_end: false,
      billing_mode: 'stripe',
      has_customer: false,
    });
    expect((await k.t.call('GET', '/v1/billing/invoices', { token: viewer })).status).toBe(403);
  });

  it('when the customer has invoices, then admins page through them newest first', async () => {
    const owner = await k.t.signIn('invoices@billing.example.com');
    expect(await k.t.call('GET', '/v1/billing/invoices', { token: owner.access_token })).toMatchObject({
      status: 200,
      body: { data: [], next_cursor: null },
    });
    await k.t.call('POST', '/v1/billing/portal', { token: owner.access_token });
    const tenant = present(await k.t.env.db('tenants').where({ id: owner.tenant.id }).first());
    const customer = present(tenant.stripe_customer_id, 'the Stripe customer the portal call made');
    for (let i = 1; i <= 3; i++) {
      k.stripe.invoices.push({
        id: `in_${tenant.id.slice(4)}_${i}`,
        customer,
        status: 'paid',
        number: `RM-${i}`,
        amount_due: 2900,
        amount_paid: 2900,
        currency: 'usd',
        created: 1_790_000_000 + i,
        period_start: 1_790_000_000,
        period_end: 1_792_000_000,
        hosted_invoice_url: `https://invoice.stripe.test/${i}`,
        invoice_pdf: null,
      });
    }
    const first = await k.t.call<{ data: Array<{ number: string }>; next_cursor: string }>(
      'GET',
      '/v1/billing/invoices?limit=2',
      { token: owner.access_token },
    );
    expect(first.body.data.map((i) => i.number)).toEqual(['RM-3', 'RM-2']);
    expect(first.body.data[0]).toMatchObject({ status: 'paid', amount_due: 2900, currency: 'usd' });
    const second = await k.t.call<{ data: Array<{ number: string }>; next_cursor: string | null }>(
      'GET',
      `/v1/billing/invoices?limit=2&cursor=${first.body.next_cursor}`,
      { token: owner.access_token },
    );
    expect(second.body.data.map((i) => i.number)).toEqual(['RM-1']);
    expect(second.body.next_cursor).toBeNull();
  });
});

describe('local-ledger mode', () => {
  let local: TestApi;
  beforeAll(async () => {
    local = await startTestApi();
  });
  afterAll(async () => {
    await local.close();
  });

  it('when there is no Stripe key, then Stripe calls answer 503 saying so, and the subscription still reads', async () => {
    const owner = await local.signIn('local@billing.example.com');
    for (const [method, path] of [
      ['POST', '/v1/billing/checkout'],
      ['POST', '/v1/billing/portal'],
      ['GET', '/v1/billing/invoices'],
    ] as const) {
      const r = await local.call(method, path, {
        token: owner.access_token,
        body: method === 'POST' ? { plan: 'pro' } : undefined,
      });
      expect(r.status).toBe(503);
      expect(r.body.detail).toContain('local-ledger mode');
    }
    const sub = await local.call('GET', '/v1/billing/subscription', { token: owner.access_token });
    expect(sub.body).toMatchObject({ plan: 'free', billing_mode: 'local' });
    const hook = await local.call('POST', '/v1/webhooks/stripe', {
      raw: '{}',
      headers: { 'stripe-signature': 't=1,v1=x' },
    });
    expect(hook.status).toBe(503);
  });
});
