import { z } from 'zod/v4';
import { METRICS } from '../../../shared/jobs/estimate.ts';
import { type PlanCatalogue, publicPlan } from '../../../shared/metering/plans.ts';
import { listOf } from '../../http/contract-schemas.ts';
import { defineOperation, type Operation } from '../../http/operation.ts';

const limits = z.record(z.enum(METRICS), z.number().nullable());
export const planSchema = z.object({
  name: z.string(),
  limits,
  max_resolution: z.enum(['720p', '1080p', '2160p']),
  overage: z.boolean(),
  max_concurrent_renders: z.number().int(),
  usage_export: z.boolean(),
  youtube_publish: z.boolean(),
  price_monthly_usd: z.number().nullable(),
  description: z.string().nullable(),
  trial_days: z.number().int().nullable(),
  /** USD per metric unit past the included amount (plans with overage). */
  overage_usd: z.partialRecord(z.enum(METRICS), z.number()),
});

/** `GET /v1/plans`: the plan catalogue, public (no token), limits in metric units. */
export function planRoutes(deps: { plans: PlanCatalogue }): Operation[] {
  return [
    defineOperation({
      operationId: 'listPlans',
      method: 'get',
      path: '/v1/plans',
      tag: 'plans',
      summary: 'The plan catalogue in force (limits in metric units; null = unlimited)',
      auth: 'public',
      responses: { 200: { description: 'Every plan, in upgrade order', body: listOf(planSchema) } },
      handler: (_input, _req, res) => {
        res.setHeader('Cache-Control', 'public, max-age=60');
        res.json({ data: deps.plans.plans.map(publicPlan), next_cursor: null });
      },
    }),
  ];
}
