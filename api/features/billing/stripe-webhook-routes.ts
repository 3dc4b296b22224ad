import express, { Router } from 'express';
import { stripeWebhooks } from '../../../shared/billing/stripe-client.ts';
import { UnavailableError, ValidationError } from '../../../shared/errors/http-errors.ts';
import { parseInput } from '../../../shared/validation/parse.ts';
import type { StripeEventHandler } from './stripe-events.ts';
import { stripeEventSchema } from './stripe-objects.ts';

/** Stripe's default: a signature older than 5 minutes is a replay. */
const SIGNATURE_TOLERANCE_SECONDS = 300;

/**
 * `POST /v1/webhooks/stripe`. Mounted before the JSON parser: the signature covers the exact
 * bytes Stripe sent. Bad, missing or stale signature → 400; a valid event → 200, also when it
 * was already processed or is a type we ignore (so Stripe stops retrying it).
 */
export function stripeWebhookRoutes(deps: { secret?: string; handle: StripeEventHandler }): Router {
  const r = Router();
  r.post('/v1/webhooks/stripe', express.raw({ type: () => true, limit: '1mb' }), async (req, res) => {
    if (!deps.secret) {
      throw new UnavailableError(
        'Stripe webhooks are not configured on this deployment: set STRIPE_WEBHOOK_SECRET',
        3600,
      );
    }
    const signature = req.get('stripe-signature');
    if (!signature) throw new ValidationError([{ path: '', message: 'missing Stripe-Signature header' }]);
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    let event: unknown;
    try {
      event = stripeWebhooks.constructEvent(body, signature, deps.secret, SIGNATURE_TOLERANCE_SECONDS);
    } catch (err) {
      throw new ValidationError([
        { path: '', message: `Stripe-Signature does not verify: ${(err as Error).message}` },
      ]);
    }
    const result = await deps.handle(parseInput(stripeEventSchema, event));
    res.json({ received: true, duplicate: result.duplicate });
  });
  return r;
}
