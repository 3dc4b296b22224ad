import { Router } from 'express';
import { type PlanCatalogue, publicPlan } from '../../../shared/metering/plans.ts';

/** `GET /v1/plans`: the plan catalogue, public (no token), limits in metric units. */
export function planRoutes(deps: { plans: PlanCatalogue }): Router {
  const r = Router();
  r.get('/v1/plans', (_req, res) => {
    res.setHeader('Cache-Control', 'public, max-age=60');
    res.json({ data: deps.plans.plans.map(publicPlan), next_cursor: null });
  });
  return r;
}
