import { z } from 'zod/v4';
import { stripeWebhooks } from '../../../shared/billing/stripe-client.ts';
import { UnavailableError, ValidationError } from '../../../shared/errors/http-errors.ts';
import { parseInput } from '../../../shared/validation/parse.ts';
import { defineOperation, type Operation } from '../../http/operation.ts';
import type { StripeEventHandler } from './stripe-events.ts';
import { stripeEventSchema } from './stripe-objects.ts';

/** Stripe's default: a signature older than 5 minutes is a replay. */
const SIGNATURE_TOLERANCE_SECONDS = 300;

/**
 * `POST /v1/webhooks/stripe`. The raw body reaches the handler: the signature covers the exact
 * bytes Stripe sent. Bad, missing or stale signature → 400; a valid event → 200, also when it
 * was already processed or is a type we ignore (so Stripe stops retrying it).
 */
export function stripeWebhookRoutes(deps: { secret?: string; handle: StripeEventHandler }): Operation[] {
  return [
    defineOperation({
      operationId: 'receiveStripeWebhook',
      method: 'post',
      path: '/v1/webhooks/stripe',
      tag: 'billing',
      summary: 'Stripe webhook events (checkout, subscriptions, invoices)',
      auth: 'stripe',
      bodyEncoding: 'raw',
      // Documentation only: the handler verifies the raw bytes before parsing them.
      body: z.looseObject({
        id: z.string(),
        type: z.string(),
        data: z.looseObject({ object: z.looseObject({}) }),
      }),
      bodyExample: { id: 'evt_1', type: 'invoice.paid', data: { object: { id: 'in_1', customer: 'cus_1' } } },
      headers: z.object({ 'Stripe-Signature': z.string().max(4096).optional() }),
      errors: [503],
      responses: {
        200: {
          description: 'Received (also a duplicate or an ignored type)',
          body: z.object({ received: z.literal(true), duplicate: z.boolean() }),
        },
      },
      handler: async ({ headers }, req, res) => {
        if (!deps.secret) {
          throw new UnavailableError(
            'Stripe webhooks are not configured on this deployment: set STRIPE_WEBHOOK_SECRET',
            3600,
          );
        }
        const signature = headers['Stripe-Signature'];
        if (!signature)
          throw new ValidationError([
            { path: '/headers/Stripe-Signature', message: 'missing Stripe-Signature header' },
          ]);
        const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
        let event: unknown;
        try {
          event = stripeWebhooks.constructEvent(body, signature, deps.secret, SIGNATURE_TOLERANCE_SECONDS);
        } catch (err) {
          throw new ValidationError([
            { path: '/headers/Stripe-Signature', message: `does not verify: ${(err as Error).message}` },
          ]);
        }
        const result = await deps.handle(parseInput(stripeEventSchema, event));
        res.json({ received: true, duplicate: result.duplicate });
      },
    }),
  ];
}
