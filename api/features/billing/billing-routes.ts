import { Router } from 'express';
import { z } from 'zod';
import { parseInput } from '../../../shared/validation/parse.ts';
import { auditActor, principalOf } from '../../http/request-context.ts';
import { requireRole } from '../auth/authenticate.ts';
import type { BillingService } from './billing-service.ts';

const checkoutBody = z.object({ plan: z.string().trim().min(1).max(32) }).strict();
const invoicesQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z
    .string()
    .regex(/^in_[A-Za-z0-9_-]+$/, 'not a cursor this API returned')
    .optional(),
});

/** `/v1/billing/*`: admins buy and manage; every member can read the subscription. */
export function billingRoutes(deps: { billing: BillingService }): Router {
  const r = Router();
  const { billing } = deps;

  r.post('/v1/billing/checkout', requireRole('admin'), async (req, res) => {
    const p = principalOf(req);
    const body = parseInput(checkoutBody, req.body);
    const { url } = await billing.checkout(p.tenantId, body.plan, auditActor(req));
    res.json({ url });
  });

  r.post('/v1/billing/portal', requireRole('admin'), async (req, res) => {
    res.json(await billing.portal(principalOf(req).tenantId));
  });

  r.get('/v1/billing/subscription', requireRole('viewer'), async (req, res) => {
    res.json(await billing.subscription(principalOf(req).tenantId));
  });

  r.get('/v1/billing/invoices', requireRole('admin'), async (req, res) => {
    const q = parseInput(invoicesQuery, req.query);
    res.json(await billing.invoices(principalOf(req).tenantId, q.limit, q.cursor));
  });

  return r;
}

/**
 * Where Stripe Checkout sends the browser back (no token: it is a plain browser visit). The
 * plan changes when Stripe's webhook arrives, usually within seconds.
 */
export function checkoutReturnRoutes(): Router {
  const r = Router();
  const page = (title: string, text: string) =>
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${title}</title></head>` +
    `<body style="font-family:system-ui;max-width:32rem;margin:4rem auto"><h1>${title}</h1><p>${text}</p></body></html>`;
  r.get('/billing/checkout/done', (_req, res) => {
    res
      .type('html')
      .send(
        page(
          'Thank you',
          'Your subscription is being set up; your new plan applies as soon as Stripe confirms it (GET /v1/billing/subscription).',
        ),
      );
  });
  r.get('/billing/checkout/canceled', (_req, res) => {
    res.type('html').send(page('Checkout canceled', 'Nothing was charged. Your plan is unchanged.'));
  });
  return r;
}
