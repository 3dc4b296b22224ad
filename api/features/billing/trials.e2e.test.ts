import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SignIn } from '../../testing/api-harness.ts';
import { BILLING_PLANS, type BillingTestKit, startBillingTestKit, stripeEvent } from './billing-test-kit.ts';

/** The billing plans, with a 14-day trial on pro. */
const PLANS = { ...BILLING_PLANS, pro: { ...BILLING_PLANS.pro, trial_days: 14 } };
const DAY = 86_400;

let k: BillingTestKit;
beforeAll(async () => {
  k = await startBillingTestKit(PLANS);
});
afterAll(async () => {
  await k.close();
});

type Subscription = Record<string, unknown> & { id: string; trial_end: number | null };

/** Checkout through the API, then what Stripe does and tells us when the customer completes it. */
async function subscribeWithTrial(owner: SignIn): Promise<Subscription> {
  const r = await k.t.call('POST', '/v1/billing/checkout', {
    token: owner.access_token,
    body: { plan: 'pro' },
  });
  expect(r.status, r.text).toBe(200);
  const sessionId = new URL(r.body.url as string).pathname.split('/').at(-1)!;
  const { session, subscription } = k.stripe.completeCheckout(sessionId);
  expect((await k.deliver(stripeEvent('checkout.session.completed', session))).status).toBe(200);
  expect((await k.deliver(stripeEvent('customer.subscription.created', subscription))).status).toBe(200);
  return subscription as Subscription;
}

const subscriptionOf = async (owner: SignIn) =>
  (await k.t.call('GET', '/v1/billing/subscription', { token: owner.access_token })).body;

describe('trials', () => {
  it('when a plan declares trial_days, then GET /v1/plans shows it and checkout starts a Stripe trial of that length', async () => {
    const plans = await k.t.call<{ data: Array<{ name: string; trial_days: number | null }> }>(
      'GET',
      '/v1/plans',
    );
    expect(plans.body.data.map((p) => [p.name, p.trial_days])).toEqual([
      ['free', null],
      ['pro', 14],
      ['enterprise', null],
    ]);

    const owner = await k.t.signIn('trial-start@billing.example.com');
    const r = await k.t.call('POST', '/v1/billing/checkout', {
      token: owner.access_token,
      body: { plan: 'pro' },
    });
    expect(r.status, r.text).toBe(200);
    const sent = k.stripe.requests.filter((q) => q.path === '/v1/checkout/sessions').at(-1);
    expect(sent?.body.subscription_data).toMatchObject({
      trial_period_days: '14',
      metadata: { plan: 'pro', tenant_id: owner.tenant.id },
    });
  });

  it('when the trial has started, then the subscription shows its end and the tenant has the plan limits', async () => {
    const owner = await k.t.signIn('trialing@billing.example.com');
    const sub = await subscribeWithTrial(owner);
    expect(sub.trial_end).toBeGreaterThan(Date.now() / 1000 + 13 * DAY);

    const s = await subscriptionOf(owner);
    expect(s).toMatchObject({
      plan: 'pro',
      effective_plan: 'pro',
      status: 'trialing',
      trial_ends_at: new Date(sub.trial_end! * 1000).toISOString(),
    });
    const usage = await k.t.call<{ plan: string; metrics: Record<string, { limit: number | null }> }>(
      'GET',
      '/v1/usage',
      { token: owner.access_token },
    );
    expect(usage.body.plan).toBe('pro');
    expect(usage.body.metrics.render_seconds?.limit).toBe(PLANS.pro.limits.render_seconds);
  });

  it('when Stripe says the trial will end, then every owner gets one email naming the end date (a redelivery sends none)', async () => {
    const owner = await k.t.signIn('trial-ending@billing.example.com');
    const sub = await subscribeWithTrial(owner);
    const event = stripeEvent('customer.subscription.trial_will_end', sub);
    const before = k.t.smtp.mails.length;
    expect((await k.deliver(event)).status).toBe(200);
    const mail = await k.t.smtp.waitFor(
      (m) => k.t.smtp.mails.indexOf(m) >= before && m.to.includes('trial-ending@billing.example.com'),
    );
    const endsAt = new Date(sub.trial_end! * 1000).toISOString();
    expect(mail.subject).toContain(`pro trial ends ${endsAt.slice(0, 10)}`);
    expect(mail.text).toContain(endsAt);
    expect(mail.text).toMatch(/7-day grace period/);

    expect((await k.deliver(event)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 300));
    const trialMails = k.t.smtp.mails.filter(
      (m) => m.to.includes('trial-ending@billing.example.com') && m.subject.includes('trial'),
    );
    expect(trialMails).toHaveLength(1);
    const audit = await k.t.env
      .db('audit_log')
      .where({ tenant_id: owner.tenant.id, action: 'billing.trial_will_end' });
    expect(audit).toHaveLength(1);
  });

  it('when the trial ends and the first payment succeeds, then the subscription is active on the plan', async () => {
    const owner = await k.t.signIn('trial-paid@billing.example.com');
    const sub = await subscribeWithTrial(owner);
    const later = Math.floor(Date.now() / 1000) + 5;
    const paid = { ...sub, status: 'active' };
    expect((await k.deliver(stripeEvent('customer.subscription.updated', paid, later))).status).toBe(200);
    expect(await subscriptionOf(owner)).toMatchObject({
      plan: 'pro',
      effective_plan: 'pro',
      status: 'active',
      trial_ends_at: new Date(sub.trial_end! * 1000).toISOString(),
      past_due_since: null,
    });
  });

  it('when the trial ends and the first payment fails, then the subscription is past_due with the grace rules', async () => {
    const owner = await k.t.signIn('trial-unpaid@billing.example.com');
    const sub = await subscribeWithTrial(owner);
    const later = Math.floor(Date.now() / 1000) + 5;
    const pastDue = { ...sub, status: 'past_due' };
    expect((await k.deliver(stripeEvent('customer.subscription.updated', pastDue, later))).status).toBe(200);
    const s = await subscriptionOf(owner);
    expect(s).toMatchObject({ plan: 'pro', effective_plan: 'pro', status: 'past_due' });
    expect(Date.parse(s.grace_ends_at as string) - Date.parse(s.past_due_since as string)).toBe(
      7 * DAY * 1000,
    );

    // Past the grace period the free limits apply.
    await k.t.env
      .db('tenants')
      .where({ id: owner.tenant.id })
      .update({ past_due_since: new Date(Date.now() - 8 * DAY * 1000) });
    expect(await subscriptionOf(owner)).toMatchObject({
      plan: 'pro',
      effective_plan: 'free',
      status: 'past_due',
    });
  });

  it('when a workspace that had a trial subscribes again, then checkout offers no second trial', async () => {
    const owner = await k.t.signIn('trial-again@billing.example.com');
    const sub = await subscribeWithTrial(owner);
    const later = Math.floor(Date.now() / 1000) + 5;
    const ended = { ...sub, status: 'canceled' };
    expect((await k.deliver(stripeEvent('customer.subscription.deleted', ended, later))).status).toBe(200);
    expect(await subscriptionOf(owner)).toMatchObject({ plan: 'free', status: 'canceled' });

    const r = await k.t.call('POST', '/v1/billing/checkout', {
      token: owner.access_token,
      body: { plan: 'pro' },
    });
    expect(r.status, r.text).toBe(200);
    const sent = k.stripe.requests.filter((q) => q.path === '/v1/checkout/sessions').at(-1);
    expect(sent?.body.subscription_data).toEqual({ metadata: { plan: 'pro', tenant_id: owner.tenant.id } });
  });
});
