import { UpgradeRequiredError } from '../errors/http-errors.ts';
import type { JobSubmission, Resolution } from '../jobs/job-requests.ts';
import type { Plan, PlanCatalogue } from './plans.ts';

const RESOLUTION_RANK: Record<Resolution, number> = { '720p': 0, '1080p': 1, '2160p': 2 };

/**
 * Plan gates that answer 403 `upgrade_required` before a submission's transaction, given the plan
 * that applies to the tenant now (the caller reads it once per request). Only a render's
 * `resolution` is gated today.
 */
export type PlanGate = (input: JobSubmission, plan: Plan) => void;

/**
 * A render above the plan's `max_resolution` (2160p on free) → `UpgradeRequiredError` naming
 * the feature (`resolution_2160p`) and the first plan in the catalogue that allows it.
 */
export function createPlanGate(deps: { plans: PlanCatalogue }): PlanGate {
  return (input, plan) => {
    if (input.kind !== 'render') return;
    const requested: Resolution | undefined = input.request.resolution;
    if (!requested || !(requested in RESOLUTION_RANK)) return;
    if (RESOLUTION_RANK[requested] <= RESOLUTION_RANK[plan.max_resolution]) return;
    const upgrade = deps.plans.firstWith(
      (p) => RESOLUTION_RANK[p.max_resolution] >= RESOLUTION_RANK[requested],
    );
    throw new UpgradeRequiredError(
      `resolution_${requested}`,
      upgrade?.name ?? 'enterprise',
      `${requested} renders need the ${upgrade?.name ?? 'enterprise'} plan or above (yours allows up to ${plan.max_resolution})`,
    );
  };
}
