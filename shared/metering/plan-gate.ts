import type { Knex } from 'knex';
import { UpgradeRequiredError } from '../errors/http-errors.ts';
import type { JobSubmission, Resolution } from '../jobs/job-requests.ts';
import type { PlanCatalogue } from './plans.ts';
import { tenantPlan } from './tenant-plan.ts';

const RESOLUTION_RANK: Record<Resolution, number> = { '720p': 0, '1080p': 1, '2160p': 2 };

/** The parsed submission and its tenant; only a render's `resolution` is gated today. */
export type GateInput = JobSubmission & { tenantId: string };

/** Plan gates that answer 403 `upgrade_required` before a submission's transaction. */
export type PlanGate = (input: GateInput) => Promise<void>;

/**
 * A render above the plan's `max_resolution` (2160p on free) → `UpgradeRequiredError` naming
 * the feature (`resolution_2160p`) and the first plan in the catalogue that allows it. The plan
 * is read from Postgres on every call.
 */
export function createPlanGate(deps: { db: Knex; plans: PlanCatalogue }): PlanGate {
  return async (input) => {
    if (input.kind !== 'render') return;
    const { tenantId } = input;
    const requested: Resolution | undefined = input.request.resolution;
    if (!requested || !(requested in RESOLUTION_RANK)) return;
    const plan = await tenantPlan(deps.db, deps.plans, tenantId);
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
