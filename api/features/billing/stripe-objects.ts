import { z } from 'zod';

/** A verified Stripe event, parsed down to what we read. */
export const stripeEventSchema = z.object({
  id: z.string().min(1),
  type: z.string().min(1),
  created: z.number().int(),
  data: z.object({ object: z.record(z.unknown()) }),
});
export type StripeEvent = z.infer<typeof stripeEventSchema>;

const idOf = z
  .union([z.string(), z.object({ id: z.string() }).passthrough()])
  .transform((v) => (typeof v === 'string' ? v : v.id));
const metadata = z
  .record(z.string())
  .nullish()
  .transform((m) => m ?? {});

// Webhook payloads follow the endpoint's API version: `current_period_end` sits on the
// subscription before 2025-03-31 and on its items after, so both are read.
export const subscriptionSchema = z.object({
  id: z.string(),
  customer: idOf,
  status: z.string(),
  metadata,
  cancel_at_period_end: z.boolean().nullish(),
  current_period_end: z.number().nullish(),
  /** Unix seconds; stays on the subscription after the trial ended. */
  trial_end: z.number().nullish(),
  items: z
    .object({
      data: z.array(
        z.object({
          current_period_end: z.number().nullish(),
          price: z.object({ id: z.string(), lookup_key: z.string().nullish() }).passthrough().nullish(),
        }),
      ),
    })
    .nullish(),
});
export type Subscription = z.infer<typeof subscriptionSchema>;

export const sessionSchema = z.object({
  id: z.string(),
  mode: z.string().nullish(),
  customer: idOf.nullish(),
  subscription: idOf.nullish(),
  client_reference_id: z.string().nullish(),
  metadata,
});

// Before 2025-03-31 an invoice names its subscription at the top; after, under `parent`.
export const invoiceSchema = z.object({
  id: z.string(),
  customer: idOf.nullish(),
  subscription: idOf.nullish(),
  parent: z.object({ subscription_details: z.object({ subscription: idOf, metadata }).nullish() }).nullish(),
});
