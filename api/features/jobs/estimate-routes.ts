import { type Request, type Response, Router } from 'express';
import type { Knex } from 'knex';
import type { AppError } from '../../../shared/errors/app-error.ts';
import type { Metric } from '../../../shared/jobs/estimate.ts';
import {
  imageRequestSchema,
  renderRequestSchema,
  ttsRequestSchema,
} from '../../../shared/jobs/job-requests.ts';
import { periodKey } from '../../../shared/metering/periods.ts';
import type { Plan, PlanCatalogue } from '../../../shared/metering/plans.ts';
import { tenantPlan } from '../../../shared/metering/tenant-plan.ts';
import { readCounters } from '../../../shared/metering/usage-counters.ts';
import { parseInput } from '../../../shared/validation/parse.ts';
import { auditActor, principalOf } from '../../http/request-context.ts';
import { requireRole } from '../auth/authenticate.ts';
import type { JobService } from './job-service.ts';
import type { JobSubmission } from './submission-seams.ts';

const money = (n: number) => Math.round(n * 1e6) / 1e6;

/** The problem body the submit would have answered (as the error handler writes it). */
function problemOf(err: AppError) {
  return {
    type: `https://docs.rendermill.dev/errors/${err.code}`,
    title: err.title,
    status: err.status,
    detail: err.message,
    code: err.code,
    ...err.extras,
  };
}

/**
 * Prices a job in the plan: what falls within the included amount left costs nothing (the
 * monthly fee covers it); the rest is overage at the plan's `overage_usd` (null: by contract).
 * A plan without overage has no overage to price: past its limit the submit is refused.
 */
function price(
  plan: Plan,
  requested: Partial<Record<Metric, number>>,
  left: Partial<Record<Metric, number | null>>,
) {
  const lines = Object.entries(requested).map(([m, quantity = 0]) => {
    const metric = m as Metric;
    const room = left[metric];
    const included = room === null || room === undefined ? quantity : Math.min(quantity, Math.max(0, room));
    const overage = plan.overage ? quantity - included : 0;
    const unit = plan.overage_usd[metric] ?? null;
    return {
      metric,
      quantity,
      included,
      overage,
      unit_price_usd: unit,
      amount_usd: overage === 0 ? 0 : unit === null ? null : money(overage * unit),
    };
  });
  const amounts = lines.map((l) => l.amount_usd);
  return {
    currency: 'usd',
    plan: plan.name,
    lines,
    total_usd: amounts.includes(null) ? null : money(amounts.reduce<number>((a, b) => a + (b ?? 0), 0)),
  };
}

/**
 * `POST /v1/renders/estimate`, `/v1/tts/estimate`, `/v1/images/estimate` (member+, as submit):
 * the submit body in, and without creating anything: the metered quantities, their price in the
 * tenant's plan (overage priced), the quota left after the job per metric, and the answer the
 * real submit would get (`submit.status` 202, or 402/403 with its problem body). The checks are
 * the submit's own, run in a rolled-back transaction (`JobService.dryRun`).
 */
export function estimateRoutes(deps: { db: Knex; jobs: JobService; plans: PlanCatalogue }): Router {
  const r = Router();

  const estimate = async (req: Request, res: Response, s: JobSubmission) => {
    const p = principalOf(req);
    const actor = {
      tenantId: p.tenantId,
      actorId: p.userId ?? p.apiKeyId,
      role: p.role,
      audit: auditActor(req),
    };
    const run = await deps.jobs.dryRun(actor, s);
    const now = new Date();
    const plan = await tenantPlan(deps.db, deps.plans, p.tenantId, now);
    const counters = new Map(
      (await readCounters(deps.db, p.tenantId, periodKey(now))).map((c) => [c.metric, c]),
    );
    const requested = Object.fromEntries(
      Object.entries(run.estimate).filter(([, q]) => typeof q === 'number' && q > 0),
    ) as Partial<Record<Metric, number>>;
    const left: Partial<Record<Metric, number | null>> = {};
    const quotaAfter = Object.fromEntries(
      (Object.keys(plan.limits) as Metric[]).map((m) => {
        const c = counters.get(m) ?? { used: 0, reserved: 0 };
        const limit = plan.limits[m];
        const ask = requested[m] ?? 0;
        left[m] = limit === null ? null : limit - c.used - c.reserved;
        return [
          m,
          {
            limit,
            used: money(c.used),
            reserved: money(c.reserved),
            requested: money(ask),
            remaining: limit === null ? null : money(limit - c.used - c.reserved - ask),
          },
        ];
      }),
    );
    res.json({
      kind: s.kind,
      quantities: requested,
      price: price(plan, requested, left),
      quota_after: quotaAfter,
      submit: run.refusal
        ? { status: run.refusal.status, error: problemOf(run.refusal) }
        : { status: 202, error: null },
    });
  };

  r.post('/v1/renders/estimate', requireRole('member'), (req, res) =>
    estimate(req, res, { kind: 'render', request: parseInput(renderRequestSchema, req.body) }),
  );
  r.post('/v1/tts/estimate', requireRole('member'), (req, res) =>
    estimate(req, res, { kind: 'tts', request: parseInput(ttsRequestSchema, req.body) }),
  );
  r.post('/v1/images/estimate', requireRole('member'), (req, res) =>
    estimate(req, res, { kind: 'image', request: parseInput(imageRequestSchema, req.body) }),
  );
  return r;
}
