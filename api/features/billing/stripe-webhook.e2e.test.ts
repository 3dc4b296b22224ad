import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { present } from '../../../shared/testing/present.ts';
import type { SignIn } from '../../testing/api-harness.ts';
import { type BillingTestKit, startBillingTestKit, stripeEvent, subscription } from './billing-test-kit.ts';

let k: BillingTestKit;
beforeAll(async () => {
  // AUTH_CACHE_TTL_MS=0: some tests move a tenant through time by editing its billing columns in
  // SQL, behind the API's back; a caching replica would see that only within its TTL.
  k = await startBillingTestKit(undefined, { AUTH_CACHE_TTL_MS: '0' });
});
afterAll(async () => {
  await k.close();
});

const now = () => Math.floor(Date.now() / 1000);
const render = (resolution = '720p', duration = 10) => ({
  scenes: [{ duration, title: 'Card' }],
  resolution,
});

/** A signed-in owner whose tenant already has a Stripe customer (made by the portal call). */
async function customerTenant(email: string): Promise<{ owner: SignIn; tenantId: string; customer: string }> {
  const owner = await k.t.signIn(email);
  await k.t.call('POST', '/v1/billing/portal', { token: owner.access_token });
  const row = present(await k.t.env.db('tenants').where({ id: owner.tenant.id }).first());
  return {
    owner,
    tenantId: owner.tenant.id,
    customer: present(row.stripe_customer_id, 'the Stripe customer'),
  };
}

async function tenantRow(id: string) {
  return k.t.env.db('tenants').where({ id }).first();
}

function checkoutCompleted(tenantId: string, customer: string, sub: string, created?: number) {
  return stripeEvent(
    'checkout.session.completed',
    {
      id: `cs_test_${sub}`,
      object: 'checkout.session',
      mode: 'subscription',
      customer,
      subscription: sub,
      client_reference_id: tenantId,
      metadata: { tenant_id: tenantId, plan: 'pro' },
    },
    created,
  );
}

describe('signatures', () => {
  it('when the body is tampered with, the secret is wrong, the signature is stale or missing, then 400 and nothing is applied', async () => {
    const { tenantId, customer } = await customerTenant('sig@webhooks.example.com');
    const event = checkoutCompleted(tenantId, customer, 'sub_sig');
    const tampered = await k.deliver(event, { tamper: (b) => b.replace('"pro"', '"enterprise"') });
    const wrongSecret = await k.deliver(event, { secret: 'whsec_someone_else' });
    const stale = await k.deliver(event, { timestamp: now() - 600 });
    const missing = await k.t.call('POST', '/v1/webhooks/stripe', { raw: JSON.stringify(event) });
    for (const r of [tampered, wrongSecret, stale, missing]) {
      expect(r.status).toBe(400);
      expect(r.body.code).toBe('validation_failed');
    }
    expect(stale.body.detail).toMatch(/tolerance/i);
    expect(await k.t.env.db('stripe_events').where({ id: event.id })).toEqual([]);
    expect(present(await tenantRow(tenantId)).plan).toBe('free');
  });
});

describe('applying events', () => {
  it('when checkout completes, then the plan and its limits change at once', async () => {
    const { owner, tenantId, customer } = await customerTenant('upgrade@webhooks.example.com');
    expect(
      (await k.t.call('POST', '/v1/renders', { token: owner.access_token, body: render('2160p') })).status,
    ).toBe(403);
    const r = await k.deliver(checkoutCompleted(tenantId, customer, 'sub_upgrade'));
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ received: true, duplicate: false });
    expect(await tenantRow(tenantId)).toMatchObject({
      plan: 'pro',
      subscription_status: 'active',
      stripe_subscription_id: 'sub_upgrade',
    });
    const usage = await k.t.call('GET', '/v1/usage', { token: owner.access_token });
    expect(usage.body).toMatchObject({
      plan: 'pro',
      overage: true,
      metrics: { render_seconds: { limit: 1000 } },
    });
    expect(
      (await k.t.call('POST', '/v1/renders', { token: owner.access_token, body: render('2160p') })).status,
    ).toBe(202);
    // Pro limits are included amounts: past them, submissions continue.
    expect(
      (await k.t.call('POST', '/v1/renders', { token: owner.access_token, body: render('720p', 600) }))
        .status,
    ).toBe(202);
    expect(
      (await k.t.call('POST', '/v1/renders', { token: owner.access_token, body: render('720p', 600) }))
        .status,
    ).toBe(202);
  });

  it('when the same event is delivered again, also concurrently, then it is applied once', async () => {
    const { tenantId, customer } = await customerTenant('dupe@webhooks.example.com');
    const event = checkoutCompleted(tenantId, customer, 'sub_dupe');
    const answers = await Promise.all([k.deliver(event), k.deliver(event), k.deliver(event)]);
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200]);
    expect(answers.filter((a) => a.body.duplicate === false)).toHaveLength(1);
    expect((await k.deliver(event)).body).toEqual({ received: true, duplicate: true });
    const audits = await k.t.env
      .db('audit_log')
      .where({ tenant_id: tenantId, action: 'billing.subscription_changed' });
    expect(audits).toHaveLength(1);
    expect(await k.t.env.db('stripe_events').where({ id: event.id })).toMatchObject([
      { outcome: 'applied', tenant_id: tenantId },
    ]);
  });

  it('when subscription.updated arrives before checkout.session.completed, then the end state is the same', async () => {
    const owner = await k.t.signIn('order@webhooks.example.com');
    const tenantId = owner.tenant.id;
    const t0 = now() - 100;
    const periodEnd = t0 + 30 * 86_400;
    // The tenant has no customer stored yet: the subscription's metadata finds it.
    const updated = stripeEvent(
      'customer.subscription.updated',
      subscription({
        id: 'sub_order',
        customer: 'cus_order',
        status: 'active',
        plan: 'pro',
        tenantId,
        periodEnd,
      }),
      t0 + 5,
    );
    expect((await k.deliver(updated)).status).toBe(200);
    expect((await k.deliver(checkoutCompleted(tenantId, 'cus_order', 'sub_order', t0))).status).toBe(200);
    // An older subscription.created arriving last changes nothing either.
    const created = stripeEvent(
      'customer.subscription.created',
      subscription({ id: 'sub_order', customer: 'cus_order', status: 'incomplete', plan: 'pro', tenantId }),
      t0 + 1,
    );
    expect((await k.deliver(created)).status).toBe(200);
    expect(await tenantRow(tenantId)).toMatchObject({
      plan: 'pro',
      subscription_status: 'active',
      stripe_customer_id: 'cus_order',
      stripe_subscription_id: 'sub_order',
      stripe_state_at: t0 + 5,
    });
    expect(present(present(await tenantRow(tenantId)).current_period_end).getTime()).toBe(periodEnd * 1000);
    expect(await k.t.env.db('stripe_events').where({ id: created.id }).first()).toMatchObject({
      outcome: 'ignored_stale',
    });

    // deleted (newer) before a late updated (older): the tenant stays on free.
    const deleted = stripeEvent(
      'customer.subscription.deleted',
      subscription({ id: 'sub_order', customer: 'cus_order', status: 'canceled', plan: 'pro' }),
      t0 + 50,
    );
    const late = stripeEvent(
      'customer.subscription.updated',
      subscription({ id: 'sub_order', customer: 'cus_order', status: 'active', plan: 'pro' }),
      t0 + 40,
    );
    await k.deliver(deleted);
    await k.deliver(late);
    expect(await tenantRow(tenantId)).toMatchObject({ plan: 'free', subscription_status: 'canceled' });
  });

  it('when a payment fails, then past_due, one mail to the owners, paid limits through the grace period, free limits after it', async () => {
    const { owner, tenantId, customer } = await customerTenant('dunning@webhooks.example.com');
    await k.deliver(checkoutCompleted(tenantId, customer, 'sub_dunning'));
    const invoice = {
      id: 'in_dunning',
      object: 'invoice',
      customer,
      parent: {
        type: 'subscription_details',
        subscription_details: { subscription: 'sub_dunning', metadata: {} },
      },
    };
    const failed = stripeEvent('invoice.payment_failed', invoice);
    await k.deliver(failed);
    await k.deliver(failed);
    expect(await tenantRow(tenantId)).toMatchObject({ plan: 'pro', subscription_status: 'past_due' });
    const mail = await k.t.smtp.waitFor(
      (m) => m.to.includes('dunning@webhooks.example.com') && /payment failed/.test(m.subject),
    );
    expect(mail.text).toContain('stays active until');
    // No wait needed to prove there is no second mail: the handler answers only after its mails were
    // accepted by the SMTP server, and the sink records a mail before accepting it — both deliveries
    // have answered, so any second mail would already be here.
    expect(
      k.t.smtp.mails.filter(
        (m) => m.to.includes('dunning@webhooks.example.com') && /payment failed/.test(m.subject),
      ),
    ).toHaveLength(1);

    // Within the grace period the paid plan applies.
    const big = render('720p', 200);
    expect((await k.t.call('POST', '/v1/renders', { token: owner.access_token, body: big })).status).toBe(
      202,
    );
    const sub = await k.t.call('GET', '/v1/billing/subscription', { token: owner.access_token });
    expect(sub.body).toMatchObject({ status: 'past_due', effective_plan: 'pro' });
    expect(sub.body.grace_ends_at).toBeTruthy();

    // Eight days later: free limits.
    await k.t.env
      .db('tenants')
      .where({ id: tenantId })
      .update({ past_due_since: new Date(Date.now() - 8 * 86_400_000) });
    const refused = await k.t.call('POST', '/v1/renders', { token: owner.access_token, body: big });
    expect(refused.status).toBe(402);
    expect(refused.body).toMatchObject({ metric: 'render_seconds', limit: 100 });
    expect((await k.t.call('GET', '/v1/usage', { token: owner.access_token })).body.plan).toBe('free');

    // The invoice gets paid: back to pro.
    await k.deliver(stripeEvent('invoice.paid', invoice));
    expect(await tenantRow(tenantId)).toMatchObject({ subscription_status: 'active', past_due_since: null });
    expect((await k.t.call('POST', '/v1/renders', { token: owner.access_token, body: big })).status).toBe(
      202,
    );
  });

  it('when a subscription is set to cancel at period end, then it stays paid until then and downgrades after', async () => {
    const { owner, tenantId, customer } = await customerTenant('cancel@webhooks.example.com');
    await k.deliver(checkoutCompleted(tenantId, customer, 'sub_cancel', now() - 10));
    const periodEnd = now() + 86_400;
    await k.deliver(
      stripeEvent(
        'customer.subscription.updated',
        subscription({
          id: 'sub_cancel',
          customer,
          status: 'active',
          plan: 'pro',
          periodEnd,
          cancelAtPeriodEnd: true,
        }),
      ),
    );
    const before = await k.t.call('GET', '/v1/billing/subscription', { token: owner.access_token });
    expect(before.body).toMatchObject({ plan: 'pro', effective_plan: 'pro', cancel_at_period_end: true });
    expect(before.body.current_period_end).toBe(new Date(periodEnd * 1000).toISOString());

    // The period ended; Stripe's deleted event is not here yet: free limits apply already.
    await k.t.env
      .db('tenants')
      .where({ id: tenantId })
      .update({ current_period_end: new Date(Date.now() - 1000) });
    expect((await k.t.call('GET', '/v1/usage', { token: owner.access_token })).body.plan).toBe('free');
    await k.deliver(
      stripeEvent(
        'customer.subscription.deleted',
        subscription({ id: 'sub_cancel', customer, status: 'canceled', plan: 'pro', periodEnd }),
        now() + 1,
      ),
    );
    expect(await tenantRow(tenantId)).toMatchObject({ plan: 'free', subscription_status: 'canceled' });
  });

  it('when an event is of another type or names no tenant of ours, then 200 and nothing changes', async () => {
    const other = stripeEvent('charge.succeeded', { id: 'ch_1', object: 'charge' });
    expect((await k.deliver(other)).status).toBe(200);
    const stranger = stripeEvent(
      'customer.subscription.updated',
      subscription({ id: 'sub_stranger', customer: 'cus_stranger', status: 'active', plan: 'pro' }),
    );
    expect((await k.deliver(stranger)).status).toBe(200);
    const rows = await k.t.env.db('stripe_events').whereIn('id', [other.id, stranger.id]).orderBy('outcome');
    expect(rows.map((r) => r.outcome)).toEqual(['ignored_type', 'ignored_unknown_tenant']);
  });
});
