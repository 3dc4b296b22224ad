/// <reference lib="dom" />
import path from 'node:path';
import type { Page, Route } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stripeEvent, subscription, WEBHOOK_SECRET } from '../../api/features/billing/billing-test-kit.ts';
import type { TestApi } from '../../api/testing/api-harness.ts';
import { type FakeStripe, signedWebhook, startFakeStripe } from '../../shared/testing/fake-stripe.ts';
import { present } from '../../shared/testing/present.ts';
import { unreachableByKeyboard } from './browser.ts';
import { type Dashboard, startDashboard } from './dashboard-kit.ts';

/**
 * The Billing page in Chromium against the real API and the fake Stripe the API tests use.
 * Stripe's hosted pages (Checkout, the portal) are answered by the test through request
 * interception: a "Pay" link that returns to the success URL, as Stripe does after a payment.
 * The webhooks Stripe would send then are signed and posted by the test, and the page must show
 * their effect live, without a reload.
 */
const OWNER = 'billing-owner@example.com';
const PLANS = {
  free: {
    limits: { render_seconds: 100, tts_seconds: 1000, images: 100, storage_bytes: null },
    max_resolution: '1080p',
    overage: false,
    price_monthly_usd: 0,
  },
  pro: {
    limits: { render_seconds: 1000, tts_seconds: 5000, images: 1000, storage_bytes: null },
    max_resolution: '2160p',
    overage: true,
    price_monthly_usd: 49,
    stripe: { base_price: 'price_pro_base', metered_prices: { render_seconds: 'price_pro_render' } },
  },
  enterprise: {
    limits: { render_seconds: null, tts_seconds: null, images: null, storage_bytes: null },
    max_resolution: '2160p',
    overage: false,
    price_monthly_usd: null,
  },
};

describe('Billing in Chromium, with Stripe', () => {
  let stripe: FakeStripe;
  let d: Dashboard;
  let t: TestApi;
  let page: Page;

  beforeAll(async () => {
    stripe = await startFakeStripe();
    d = await startDashboard({
      plans: PLANS,
      worker: false,
      env: {
        STRIPE_SECRET_KEY: 'sk_test_rendermill',
        STRIPE_API_URL: stripe.url,
        STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
      },
    });
    ({ t, page } = d);
  }, 240_000);

  afterAll(async () => {
    await d?.close();
    await stripe?.close();
  });

  async function deliver(event: Record<string, unknown>): Promise<void> {
    const signed = signedWebhook(event, WEBHOOK_SECRET);
    const r = await t.call('POST', '/v1/webhooks/stripe', {
      raw: signed.body,
      headers: { 'stripe-signature': signed.signature, 'content-type': 'application/json' },
    });
    expect(r.status, r.text).toBe(200);
  }

  /** Stripe's hosted page, answered here: a heading and a link back to where Stripe would send the browser. */
  function hostedPage(title: string, back: string) {
    return (route: Route) =>
      route.fulfill({
        contentType: 'text/html',
        body: `<!doctype html><html lang="en"><head><title>${title}</title></head><body><main><h1>${title}</h1><a href="${back}">Pay</a></main></body></html>`,
      });
  }

  const fact = (name: 'plan' | 'effective-plan') => page.getByTestId(name);

  it('when an owner upgrades through Checkout, then the new plan shows live once the webhook lands, and the portal, invoices and banners follow', async () => {
    await d.signInByLink(OWNER);
    await page.getByRole('link', { name: 'Billing' }).click();
    await d.heading('Billing').waitFor();
    expect(await fact('plan').textContent()).toBe('free');
    expect(await fact('effective-plan').textContent()).toBe('free');
    // The catalogue with prices and limits; Upgrade only where Checkout can sell it.
    const row = (plan: string) =>
      page
        .getByRole('row')
        .filter({ has: page.locator('td:first-child > strong', { hasText: new RegExp(`^${plan}$`) }) });
    expect(await row('pro').textContent()).toMatch(
      /\$49 \/ month.*Render seconds: 1,000 s.*Up to 2160p.*billed as overage/,
    );
    expect(await row('enterprise').textContent()).toMatch(/by contract.*Render seconds: unlimited/);
    expect(await row('free').textContent()).toMatch(/Current plan/);
    expect(await row('enterprise').getByRole('button').count()).toBe(0);
    expect(await page.getByRole('button', { name: 'Manage billing' }).isDisabled()).toBe(true);
    await page.getByText('No invoices yet.').waitFor();
    await d.expectAccessible('Billing (free)');
    expect(await unreachableByKeyboard(page), 'Billing by keyboard').toEqual([]);
    await page.screenshot({ path: path.join(d.shots, 'billing.png'), fullPage: true });

    // Upgrade → Stripe Checkout (its hosted page) → Pay → back on Billing, still free.
    let sessionId = '';
    await page.route('https://checkout.stripe.test/**', (route) => {
      sessionId = new URL(route.request().url()).pathname.split('/').pop() ?? '';
      const session = stripe.sessions.get(sessionId);
      const back = String(session?.success_url ?? '').replace('{CHECKOUT_SESSION_ID}', sessionId);
      return hostedPage('Stripe Checkout', back)(route);
    });
    await page.getByRole('button', { name: 'Upgrade to pro' }).click();
    await page.getByRole('heading', { name: 'Stripe Checkout' }).waitFor();
    expect(stripe.sessions.get(sessionId)).toMatchObject({ mode: 'subscription', metadata: { plan: 'pro' } });
    await page.getByRole('link', { name: 'Pay' }).click();
    await d.heading('Billing').waitFor();
    expect(new URL(page.url()).searchParams.get('checkout')).toBe('done');
    await page.getByText('your new plan applies as soon as Stripe confirms').waitFor();
    expect(await fact('plan').textContent()).toBe('free');

    // Stripe's webhooks land: the page changes on its own (the marker proves there was no reload).
    await page.evaluate(() => {
      (window as unknown as { marker: number }).marker = 1;
    });
    const paid = stripe.completeCheckout(sessionId);
    await deliver(stripeEvent('checkout.session.completed', paid.session));
    await deliver(stripeEvent('customer.subscription.created', paid.subscription));
    await page.getByTestId('plan').filter({ hasText: 'pro' }).waitFor();
    await page.getByText('Thank you: you are on the pro plan now.').waitFor();
    await page.getByRole('region', { name: 'Usage' }).getByText('(pro plan)').waitFor();
    expect(await page.evaluate(() => (window as unknown as { marker?: number }).marker)).toBe(1);
    expect(await row('pro').textContent()).toMatch(/Current plan/);
    expect(await row('free').getByRole('button').count()).toBe(0);

    // Manage billing → the Stripe portal, for this tenant's customer.
    const tenant = present(await t.env.db('tenants').where({ plan: 'pro' }).first());
    const customer = tenant.stripe_customer_id as string;
    await page.route(
      'https://billing.stripe.test/**',
      hostedPage('Stripe billing portal', `${d.base}/billing`),
    );
    await page.getByRole('button', { name: 'Manage billing' }).click();
    await page.getByRole('heading', { name: 'Stripe billing portal' }).waitFor();
    expect(
      stripe.requests.filter((r) => r.path === '/v1/billing_portal/sessions').at(-1)?.body,
    ).toMatchObject({
      customer,
    });
    await page.getByRole('link', { name: 'Pay' }).click();
    await d.heading('Billing').waitFor();

    // The invoice table reads Stripe's invoices of the customer.
    const now = Math.floor(Date.now() / 1000);
    stripe.invoices.push({
      id: 'in_test_first',
      customer,
      status: 'paid',
      number: 'RM-0001',
      amount_due: 4900,
      amount_paid: 4900,
      currency: 'usd',
      created: now,
      period_start: now,
      period_end: now + 30 * 86_400,
      hosted_invoice_url: 'https://invoice.stripe.test/i/in_test_first',
      invoice_pdf: null,
    });
    await page.reload();
    const invoice = page.getByRole('row').filter({ hasText: 'RM-0001' });
    await invoice.waitFor();
    expect(await invoice.textContent()).toMatch(/\$49\.00.*paid/);
    expect(await invoice.getByRole('link', { name: 'View invoice RM-0001' }).getAttribute('href')).toBe(
      'https://invoice.stripe.test/i/in_test_first',
    );

    // Canceled at the period's end, then a failed payment: each banner appears live.
    const sub = paid.subscription as { id: string; customer: string };
    await deliver(
      stripeEvent(
        'customer.subscription.updated',
        subscription({
          id: sub.id,
          customer: sub.customer,
          status: 'active',
          plan: 'pro',
          cancelAtPeriodEnd: true,
        }),
        now + 1,
      ),
    );
    await page.getByRole('status').filter({ hasText: 'Your subscription is canceled' }).waitFor();
    expect(await page.getByText('Ends on', { exact: true }).count()).toBe(1);
    await d.expectAccessible('Billing (cancel at period end)');
    await deliver(
      stripeEvent(
        'invoice.payment_failed',
        { id: 'in_test_failed', customer: sub.customer, subscription: sub.id },
        now + 2,
      ),
    );
    const pastDue = page.getByRole('alert').filter({ hasText: 'Payment failed' });
    await pastDue.waitFor();
    expect(await pastDue.textContent()).toMatch(/The pro plan stays until .+ moves to the free plan/);
    await d.expectAccessible('Billing (past due)');
    expect(d.browser.cspViolations).toEqual([]);
  }, 180_000);

  it('when a member opens Billing or Webhooks, then they get the no-access page, and Usage is open to them', async () => {
    const before = t.smtp.mails.length;
    const owner = await t.signIn(OWNER);
    const invite = await t.call('POST', '/v1/invites', {
      token: owner.access_token,
      body: { email: 'billing-member@example.com', role: 'member' },
    });
    expect(invite.status, invite.text).toBe(201);
    await page.goto(await d.linkFor('billing-member@example.com', before));
    await page.getByRole('button', { name: 'Sign in' }).click();
    await d.heading('Renders').waitFor();
    expect(await page.getByRole('link', { name: 'Billing' }).count()).toBe(0);
    await page.goto(`${d.base}/billing`);
    await d.heading('No access').waitFor();
    // Webhooks are admin+ too; Usage is for everyone.
    expect(await page.getByRole('link', { name: 'Webhooks' }).count()).toBe(0);
    await page.goto(`${d.base}/webhooks`);
    await d.heading('No access').waitFor();
    await page.getByRole('link', { name: 'Usage', exact: true }).click();
    await d.heading('Usage').waitFor();
  }, 60_000);
});

describe('Billing in Chromium, in local-ledger mode', () => {
  let d: Dashboard;
  beforeAll(async () => {
    d = await startDashboard({ worker: false });
  }, 240_000);
  afterAll(async () => {
    await d?.close();
  });

  it('when the server runs without Stripe, then Billing says billing is not connected and offers no purchase', async () => {
    await d.signInByLink('local-owner@example.com');
    await d.page.getByRole('link', { name: 'Billing' }).click();
    await d.heading('Billing').waitFor();
    await d.page.getByText('Billing is not connected').waitFor();
    expect(await d.page.getByRole('button', { name: /^Upgrade/ }).count()).toBe(0);
    expect(await d.page.getByRole('button', { name: 'Manage billing' }).count()).toBe(0);
    expect(await d.page.getByRole('heading', { name: 'Invoices' }).count()).toBe(0);
    await d.expectAccessible('Billing (local ledger)');
  }, 60_000);
});
