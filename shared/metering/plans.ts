import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { METRICS, type Metric } from '../jobs/estimate.ts';
import type { Resolution } from '../jobs/job-requests.ts';

const metric = z.enum(METRICS);
const limit = z.number().nonnegative().nullable();

/**
 * One plan of the catalogue. Limits are in metric units (seconds, count, bytes): the README
 * plan table's "500 min" is `render_seconds: 30000`. `null` = unlimited.
 */
const planSchema = z
  .object({
    limits: z
      .object({ render_seconds: limit, tts_seconds: limit, images: limit, storage_bytes: limit })
      .strict(),
    max_resolution: z.enum(['720p', '1080p', '2160p']),
    /** false: limits are hard (402 past them). true: limits are included amounts, overage is billed. */
    overage: z.boolean(),
    /** Renders of one tenant running at once; more wait in the queue. Default 1. */
    max_concurrent_renders: z.number().int().min(1).max(1000).optional(),
    /** BullMQ priority of the tenant's jobs: 1 runs first, larger runs later. Default 10. */
    priority: z.number().int().min(1).max(2_097_152).optional(),
    /** `GET /v1/usage/export.csv`. Default: true for plans with overage or no limits at all. */
    usage_export: z.boolean().optional(),
    /** Publishing outputs to YouTube (`POST /v1/jobs/:id/publish`, the channel connection). Default: true for plans with overage or no limits at all. */
    youtube_publish: z.boolean().optional(),
    price_monthly_usd: z.number().nonnegative().nullable().optional(),
    /** Days of free trial Checkout starts the subscription with (Stripe `trial_period_days`); a tenant's first subscription only. Default: none. */
    trial_days: z.number().int().min(1).max(730).optional(),
    /** USD per metric unit past the included amount (plans with overage); absent: priced by contract. */
    overage_usd: z.record(metric, z.number().nonnegative()).optional(),
    description: z.string().max(500).optional(),
    stripe: z
      .object({
        /** Recurring price id (price_…) of the plan's base fee; needed for Checkout. */
        base_price: z.string().min(1).optional(),
        /** Metered price id per metric, added to the Checkout line items. */
        metered_prices: z.record(metric, z.string().min(1)).optional(),
        /** Meter `event_name` per metric for usage reports (defaults: see DEFAULT_METER_EVENTS). */
        meter_events: z.record(metric, z.string().min(1).max(100)).optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

const catalogueSchema = z
  .record(z.string().regex(/^[a-z][a-z0-9_-]{0,31}$/, 'plan names are lower-case words'), planSchema)
  .refine((c) => 'free' in c, { message: 'the catalogue needs a "free" plan (new tenants start on it)' });

export type PlanFile = z.input<typeof catalogueSchema>;

/**
 * Meter event names the usage reporter sends per metric, unless a plan overrides them. Create
 * Stripe meters with these event names. storage_bytes is not reported by default (it is a level,
 * billed per GB-month, which a sum meter cannot express).
 */
export const DEFAULT_METER_EVENTS: Partial<Record<Metric, string>> = {
  render_seconds: 'rendermill_render_seconds',
  tts_seconds: 'rendermill_tts_seconds',
  images: 'rendermill_images',
};

const GB = 1_000_000_000;

/** The built-in catalogue (README: Plans), used when PLANS_FILE is unset. */
export const DEFAULT_PLANS: PlanFile = {
  free: {
    limits: { render_seconds: 500 * 60, tts_seconds: 1000 * 60, images: 500, storage_bytes: 100 * GB },
    max_resolution: '1080p',
    overage: false,
    max_concurrent_renders: 1,
    priority: 10,
    usage_export: false,
    youtube_publish: false,
    price_monthly_usd: 0,
    description: 'Hard limits: submissions past them answer 402 until the next month.',
  },
  pro: {
    limits: { render_seconds: 2500 * 60, tts_seconds: 5000 * 60, images: 2500, storage_bytes: 500 * GB },
    max_resolution: '2160p',
    overage: true,
    max_concurrent_renders: 5,
    priority: 5,
    usage_export: true,
    youtube_publish: true,
    price_monthly_usd: 29,
    overage_usd: { render_seconds: 0.1 / 60, tts_seconds: 0.001, images: 0.05 },
    description:
      'Included amounts; overage billed: render $0.10/min, TTS $0.001/s, image $0.05, storage $0.10/GB-month.',
  },
  enterprise: {
    limits: { render_seconds: null, tts_seconds: null, images: null, storage_bytes: null },
    max_resolution: '2160p',
    overage: false,
    max_concurrent_renders: 20,
    priority: 1,
    usage_export: true,
    youtube_publish: true,
    price_monthly_usd: null,
    description: 'Unlimited, by contract.',
  },
};

export interface Plan {
  name: string;
  limits: Record<Metric, number | null>;
  max_resolution: Resolution;
  overage: boolean;
  max_concurrent_renders: number;
  priority: number;
  usage_export: boolean;
  youtube_publish: boolean;
  price_monthly_usd: number | null;
  /** Trial length Checkout offers, or null for none. */
  trial_days: number | null;
  /** USD per unit past the included amount, per metric; a metric missing here is priced by contract. */
  overage_usd: Partial<Record<Metric, number>>;
  description: string | null;
  stripe: {
    base_price: string | null;
    metered_prices: Partial<Record<Metric, string>>;
    meter_events: Partial<Record<Metric, string>>;
  };
}

export interface PlanCatalogue {
  /** In catalogue order (the file's key order): cheaper plans first, by convention. */
  readonly plans: readonly Plan[];
  has(name: string): boolean;
  /** The named plan; an unknown name (a plan removed from PLANS_FILE) falls back to `free`. */
  get(name: string): Plan;
  /** BullMQ priority for a plan's jobs (1 = first). */
  priorityFor(plan: string): number;
  /** Renders of one tenant allowed to run at once. */
  maxConcurrentRenders(plan: string): number;
  /** The first plan in catalogue order that satisfies `pred` (what to suggest in a 403). */
  firstWith(pred: (p: Plan) => boolean): Plan | undefined;
}

/** Raised when PLANS_FILE cannot be read or does not parse; the message names the file and field. */
export class PlansFileError extends Error {
  override readonly name = 'PlansFileError';
}

function toPlan(name: string, p: z.output<typeof planSchema>): Plan {
  const unlimited = Object.values(p.limits).every((l) => l === null);
  return {
    name,
    limits: p.limits,
    max_resolution: p.max_resolution,
    overage: p.overage,
    max_concurrent_renders: p.max_concurrent_renders ?? 1,
    priority: p.priority ?? 10,
    usage_export: p.usage_export ?? (p.overage || unlimited),
    youtube_publish: p.youtube_publish ?? (p.overage || unlimited),
    price_monthly_usd: p.price_monthly_usd ?? null,
    trial_days: p.trial_days ?? null,
    overage_usd: p.overage_usd ?? {},
    description: p.description ?? null,
    stripe: {
      base_price: p.stripe?.base_price ?? null,
      metered_prices: p.stripe?.metered_prices ?? {},
      meter_events: { ...DEFAULT_METER_EVENTS, ...p.stripe?.meter_events },
    },
  };
}

/** Validates a catalogue (the PLANS_FILE JSON); `source` names it in errors. */
export function parsePlanCatalogue(input: unknown, source = 'plan catalogue'): PlanCatalogue {
  const parsed = catalogueSchema.safeParse(input);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new PlansFileError(`Invalid ${source}:\n${lines.join('\n')}`);
  }
  const plans = Object.entries(parsed.data).map(([name, p]) => toPlan(name, p));
  const byName = new Map(plans.map((p) => [p.name, p]));
  const free = byName.get('free') as Plan;
  const get = (name: string) => byName.get(name) ?? free;
  return {
    plans,
    has: (name) => byName.has(name),
    get,
    priorityFor: (name) => get(name).priority,
    maxConcurrentRenders: (name) => get(name).max_concurrent_renders,
    firstWith: (pred) => plans.find(pred),
  };
}

/** The catalogue of this deployment: PLANS_FILE when set, else the built-in defaults. Read once at boot. */
export function loadPlanCatalogue(plansFile?: string): PlanCatalogue {
  if (!plansFile) return parsePlanCatalogue(DEFAULT_PLANS, 'default plans');
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(plansFile, 'utf8'));
  } catch (err) {
    throw new PlansFileError(`PLANS_FILE ${plansFile}: ${(err as Error).message}`);
  }
  return parsePlanCatalogue(json, `PLANS_FILE ${plansFile}`);
}

/** What `GET /v1/plans` shows: no Stripe ids, limits in metric units. */
export function publicPlan(p: Plan) {
  return {
    name: p.name,
    limits: p.limits,
    max_resolution: p.max_resolution,
    overage: p.overage,
    max_concurrent_renders: p.max_concurrent_renders,
    usage_export: p.usage_export,
    youtube_publish: p.youtube_publish,
    price_monthly_usd: p.price_monthly_usd,
    trial_days: p.trial_days,
    overage_usd: p.overage_usd,
    description: p.description,
  };
}
