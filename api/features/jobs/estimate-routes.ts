import type { Request, Response } from 'express';
import type { Knex } from 'knex';
import { z } from 'zod/v4';
import type { AppError } from '../../../shared/errors/app-error.ts';
import { METRICS, type Metric } from '../../../shared/jobs/estimate.ts';
import type { JobSubmission } from '../../../shared/jobs/job-requests.ts';
import {
  imageRequestSchema,
  renderRequestSchema,
  ttsRequestSchema,
} from '../../../shared/jobs/job-requests.ts';
import { periodKey } from '../../../shared/metering/periods.ts';
import type { Plan } from '../../../shared/metering/plans.ts';
import { readCounters } from '../../../shared/metering/usage-counters.ts';
import { problemSchema } from '../../http/contract-schemas.ts';
import { defineOperation, type Operation } from '../../http/operation.ts';
import { auditActor, principalOf } from '../../http/request-context.ts';
import type { JobService } from './job-service.ts';

const metric = z.enum(METRICS);

/** The answer of every estimate operation. */
export const estimateViewSchema = z.object({
  kind: z.enum(['render', 'tts', 'image']),
  quantities: z.partialRecord(metric, z.number()).describe('The metered quantities the submit would book'),
  price: z.object({
    currency: z.literal('usd'),
    plan: z.string(),
    lines: z.array(
      z.object({
        metric,
        quantity: z.number(),
        included: z.number().describe('Within what the plan includes and is left this period'),
        overage: z.number(),
        unit_price_usd: z.number().nullable(),
        amount_usd: z.number().nullable().describe('null: overage priced by contract'),
      }),
    ),
    total_usd: z.number().nullable(),
  }),
  quota_after: z
    .partialRecord(
      metric,
      z.object({
        limit: z.number().nullable(),
        used: z.number(),
        reserved: z.number(),
        requested: z.number(),
        remaining: z.number().nullable().describe('After this job; null: unlimited'),
      }),
    )
    .describe('Per metric of the plan, the quota left after the job'),
  submit: z
    .object({ status: z.number().int(), error: problemSchema.omit({ request_id: true }).nullable() })
    .describe('What the real submit would answer: 202, or the 402/403 and its problem body'),
});

const estimateExample = {
  kind: 'render',
  quantities: { images: 1, render_seconds: 10 },
  price: {
    currency: 'usd',
    plan: 'free',
    lines: [
      { metric: 'images', quantity: 1, included: 1, overage: 0, unit_price_usd: null, amount_usd: 0 },
      {
        metric: 'render_seconds',
        quantity: 10,
        included: 10,
        overage: 0,
        unit_price_usd: null,
        amount_usd: 0,
      },
    ],
    total_usd: 0,
  },
  quota_after: {
    render_seconds: { limit: 60, used: 0, reserved: 0, requested: 10, remaining: 50 },
  },
  submit: { status: 202, error: null },
};

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
export function estimateRoutes(deps: { db: Knex; jobs: JobService }): Operation[] {
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
    const { plan } = run;
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

  const op = {
    method: 'post',
    tag: 'jobs',
    auth: 'bearer',
    role: 'member',
    responses: {
      200: {
        description: 'The estimate; nothing was created or reserved',
        body: estimateViewSchema,
        example: estimateExample,
      },
    },
  } as const;
  return [
    defineOperation({
      ...op,
      operationId: 'estimateRender',
      path: '/v1/renders/estimate',
      summary: 'Estimate a render: quantities, price, quota after it, and the answer the submit would get',
      body: renderRequestSchema,
      bodyExample: { scenes: [{ title: 'Card', duration: 10 }], resolution: '720p' },
      handler: ({ body }, req, res) => estimate(req, res, { kind: 'render', request: body }),
    }),
    defineOperation({
      ...op,
      operationId: 'estimateTts',
      path: '/v1/tts/estimate',
      summary: 'Estimate a speech synthesis before submitting it',
      body: ttsRequestSchema,
      bodyExample: { text: 'Hello from Rendermill.', voice: 'en', format: 'mp3' },
      handler: ({ body }, req, res) => estimate(req, res, { kind: 'tts', request: body }),
    }),
    defineOperation({
      ...op,
      operationId: 'estimateImage',
      path: '/v1/images/estimate',
      summary: 'Estimate a title card before submitting it',
      body: imageRequestSchema,
      bodyExample: { title: 'Chapter 1', width: 1280, height: 720 },
      handler: ({ body }, req, res) => estimate(req, res, { kind: 'image', request: body }),
    }),
  ];
}
