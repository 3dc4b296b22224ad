import { z } from 'zod/v4';
import { listOf, nullableTime } from '../../http/contract-schemas.ts';
import { defineOperation, type Operation } from '../../http/operation.ts';
import { auditActor, principalOf } from '../../http/request-context.ts';
import type { BillingService } from './billing-service.ts';

const urlAnswer = z.object({ url: z.string() });
const subscription = z.object({
  plan: z.string(),
  effective_plan: z.string(),
  status: z.string(),
  current_period_end: nullableTime,
  cancel_at_period_end: z.boolean(),
  past_due_since: nullableTime,
  grace_ends_at: nullableTime,
  plan_changed_at: nullableTime,
  trial_ends_at: nullableTime,
  billing_mode: z.enum(['stripe', 'local']),
  has_customer: z.boolean(),
});
const invoice = z.object({
  id: z.string(),
  number: z.string().nullable(),
  status: z.string().nullable(),
  currency: z.string(),
  amount_due: z.number(),
  amount_paid: z.number(),
  created: z.string(),
  period_start: z.string(),
  period_end: z.string(),
  hosted_invoice_url: z.string().nullable(),
  invoice_pdf: z.string().nullable(),
});

/** `/v1/billing/*`: admins buy and manage; every member can read the subscription. */
export function billingRoutes(deps: { billing: BillingService }): Operation[] {
  const { billing } = deps;
  return [
    defineOperation({
      operationId: 'createCheckout',
      method: 'post',
      path: '/v1/billing/checkout',
      tag: 'billing',
      summary: 'A Stripe Checkout session for a plan',
      description: '503 in local-ledger mode (no STRIPE_SECRET_KEY).',
      auth: 'bearer',
      role: 'admin',
      body: z.strictObject({ plan: z.string().trim().min(1).max(32) }),
      bodyExample: { plan: 'pro' },
      errors: [409, 422, 503],
      responses: { 200: { description: 'The Checkout URL', body: urlAnswer } },
      handler: async ({ body }, req, res) => {
        const { url } = await billing.checkout(principalOf(req).tenantId, body.plan, auditActor(req));
        res.json({ url });
      },
    }),
    defineOperation({
      operationId: 'createBillingPortal',
      method: 'post',
      path: '/v1/billing/portal',
      tag: 'billing',
      summary: 'A Stripe customer portal session',
      auth: 'bearer',
      role: 'admin',
      errors: [503],
      responses: { 200: { description: 'The portal URL', body: urlAnswer } },
      handler: async (_input, req, res) => {
        res.json(await billing.portal(principalOf(req).tenantId));
      },
    }),
    defineOperation({
      operationId: 'getSubscription',
      method: 'get',
      path: '/v1/billing/subscription',
      tag: 'billing',
      summary: 'Subscription state: plan, effective plan, period, grace',
      auth: 'bearer',
      responses: { 200: { description: 'The subscription', body: subscription } },
      handler: async (_input, req, res) => {
        res.json(await billing.subscription(principalOf(req).tenantId));
      },
    }),
    defineOperation({
      operationId: 'listInvoices',
      method: 'get',
      path: '/v1/billing/invoices',
      tag: 'billing',
      summary: "The customer's Stripe invoices",
      auth: 'bearer',
      role: 'admin',
      query: z.object({
        limit: z.coerce.number().int().min(1).max(100).default(20),
        cursor: z
          .string()
          .regex(/^in_[A-Za-z0-9_-]+$/, 'not a cursor this API returned')
          .optional(),
      }),
      queryExample: { limit: '20' },
      errors: [503],
      responses: { 200: { description: 'One page of invoices', body: listOf(invoice) } },
      handler: async ({ query }, req, res) => {
        res.json(await billing.invoices(principalOf(req).tenantId, query.limit, query.cursor));
      },
    }),
  ];
}

const returnPage = (title: string, text: string) =>
  `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${title}</title></head>` +
  `<body style="font-family:system-ui;max-width:32rem;margin:4rem auto"><h1>${title}</h1><p>${text}</p></body></html>`;

/**
 * Where Stripe Checkout sends the browser back (no token: it is a plain browser visit). The
 * plan changes when Stripe's webhook arrives, usually within seconds.
 */
export function checkoutReturnRoutes(): Operation[] {
  const page = (operationId: string, path: string, summary: string, html: string) =>
    defineOperation({
      operationId,
      method: 'get',
      path,
      tag: 'billing',
      summary,
      auth: 'public',
      responses: { 200: { description: 'HTML page', contentType: 'text/html', body: z.string() } },
      handler: (_input, _req, res) => {
        res.type('html').send(html);
      },
    });
  return [
    page(
      'checkoutDone',
      '/billing/checkout/done',
      'Where Stripe Checkout returns after a purchase',
      returnPage(
        'Thank you',
        'Your subscription is being set up; your new plan applies as soon as Stripe confirms it (GET /v1/billing/subscription).',
      ),
    ),
    page(
      'checkoutCanceled',
      '/billing/checkout/canceled',
      'Where Stripe Checkout returns when the buyer gives up',
      returnPage('Checkout canceled', 'Nothing was charged. Your plan is unchanged.'),
    ),
  ];
}
