import { once } from 'node:events';
import type { Response } from 'express';
import type { Knex } from 'knex';
import { z } from 'zod/v4';
import { csvRow } from '../../../shared/csv/csv.ts';
import { UpgradeRequiredError } from '../../../shared/errors/http-errors.ts';
import { METRICS } from '../../../shared/jobs/estimate.ts';
import { periodKey, periodOf } from '../../../shared/metering/periods.ts';
import type { PlanCatalogue } from '../../../shared/metering/plans.ts';
import { tenantPlan } from '../../../shared/metering/tenant-plan.ts';
import { readCounters } from '../../../shared/metering/usage-counters.ts';
import { isoTime, listOf, rfc3339Query } from '../../http/contract-schemas.ts';
import { decodeTimeCursor, encodeTimeCursor } from '../../http/keyset-cursor.ts';
import { defineOperation, type Operation } from '../../http/operation.ts';
import { principalOf } from '../../http/request-context.ts';
import { type LedgerRow, ledgerPage } from './usage-store.ts';

const range = { from: rfc3339Query.optional(), to: rfc3339Query.optional() };
const toAfterFrom = (q: { from?: Date; to?: Date }) => !q.from || !q.to || q.from < q.to;
const afterFrom = { message: 'must be after from', path: ['to'] };
const rangeQuery = z.object(range).refine(toAfterFrom, afterFrom);
const eventsQuery = z
  .object({
    ...range,
    limit: z.coerce.number().int().min(1).max(1000).default(100),
    cursor: z.string().max(200).optional(),
  })
  .refine(toAfterFrom, afterFrom);

const usageSchema = z.object({
  period: z.object({ start: isoTime, end: isoTime }),
  plan: z.string(),
  overage: z.boolean(),
  metrics: z.record(
    z.enum(METRICS),
    z.object({
      used: z.number(),
      reserved: z.number(),
      limit: z.number().nullable(),
      remaining: z.number().nullable(),
    }),
  ),
});
const eventSchema = z.object({
  id: z.string(),
  job_id: z.string(),
  step: z.string(),
  metric: z.enum(METRICS),
  quantity: z.number(),
  occurred_at: isoTime,
  reported_at: isoTime.nullable(),
});

function eventView(r: LedgerRow) {
  return {
    id: r.id,
    job_id: r.job_id,
    step: r.step,
    metric: r.metric,
    quantity: r.quantity,
    occurred_at: r.occurred_at,
    reported_at: r.reported_at,
  };
}

const CSV_COLUMNS = ['id', 'occurred_at', 'job_id', 'step', 'metric', 'quantity', 'reported_at'] as const;
const CSV_BATCH = 1000;

async function write(res: Response, chunk: string): Promise<void> {
  if (!res.write(chunk)) await once(res, 'drain');
}

/** `GET /v1/usage`, `/v1/usage/events`, `/v1/usage/export.csv`: viewer and above. */
export function usageRoutes(deps: { db: Knex; plans: PlanCatalogue }): Operation[] {
  const { db, plans } = deps;
  return [
    defineOperation({
      operationId: 'getUsage',
      method: 'get',
      path: '/v1/usage',
      tag: 'usage',
      summary: "This month's usage per metric: used, reserved, limit, remaining",
      auth: 'bearer',
      responses: { 200: { description: 'Usage of the current UTC month', body: usageSchema } },
      handler: async (_input, req, res) => {
        const { tenantId } = principalOf(req);
        const now = new Date();
        const plan = await tenantPlan(db, plans, tenantId, now);
        const { start, end } = periodOf(now);
        const rows = await readCounters(db, tenantId, periodKey(now));
        const byMetric = new Map(rows.map((c) => [c.metric, c]));
        const metrics = Object.fromEntries(
          METRICS.map((m) => {
            const c = byMetric.get(m) ?? { used: 0, reserved: 0 };
            const limit = plan.limits[m];
            const remaining = limit === null ? null : Math.max(0, limit - c.used - c.reserved);
            // Counters are sums of decimals: answer 3.23, not 3.2300000000000004.
            const tidy = (n: number) => Math.round(n * 1e6) / 1e6;
            return [
              m,
              {
                used: tidy(c.used),
                reserved: tidy(c.reserved),
                limit,
                remaining: remaining === null ? null : tidy(remaining),
              },
            ];
          }),
        );
        res.json({
          period: { start: start.toISOString(), end: end.toISOString() },
          plan: plan.name,
          // true: limits are included amounts and usage past them is billed instead of refused.
          overage: plan.overage,
          metrics,
        });
      },
    }),
    defineOperation({
      operationId: 'listUsageEvents',
      method: 'get',
      path: '/v1/usage/events',
      tag: 'usage',
      summary: 'The usage ledger, newest first',
      auth: 'bearer',
      query: eventsQuery,
      queryExample: { from: '2026-11-01T00:00:00Z', to: '2026-12-01T00:00:00Z', limit: '100' },
      responses: { 200: { description: 'One page of ledger rows', body: listOf(eventSchema) } },
      handler: async ({ query: q }, req, res) => {
        const { tenantId } = principalOf(req);
        const after = q.cursor ? decodeTimeCursor(q.cursor) : undefined;
        const rows = await ledgerPage(db, {
          tenantId,
          from: q.from,
          to: q.to,
          limit: q.limit + 1,
          after,
          order: 'desc',
        });
        const page = rows.slice(0, q.limit);
        const last = page.at(-1);
        res.json({
          data: page.map(eventView),
          next_cursor: rows.length > q.limit && last ? encodeTimeCursor(last.position, last.id) : null,
        });
      },
    }),
    defineOperation({
      operationId: 'exportUsageCsv',
      method: 'get',
      path: '/v1/usage/export.csv',
      tag: 'usage',
      summary: 'The usage ledger as CSV, oldest first (paid plans)',
      description:
        'Free plan: 403 upgrade_required. Columns: id,occurred_at,job_id,step,metric,quantity,reported_at.',
      auth: 'bearer',
      query: rangeQuery,
      queryExample: { from: '2026-11-01T00:00:00Z' },
      errors: [403],
      responses: {
        200: { description: 'Streamed CSV', contentType: 'text/csv', body: z.string() },
      },
      handler: async ({ query: q }, req, res) => {
        const { tenantId } = principalOf(req);
        const plan = await tenantPlan(db, plans, tenantId);
        if (!plan.usage_export) {
          const upgrade = plans.firstWith((p) => p.usage_export);
          throw new UpgradeRequiredError('usage_export', upgrade?.name ?? 'pro');
        }
        res.status(200);
        res.type('text/csv; charset=utf-8');
        res.setHeader('Content-Disposition', `attachment; filename="usage-${tenantId}.csv"`);
        res.setHeader('Cache-Control', 'no-store');
        // Keyset pages, oldest first, written as they come: memory stays flat for any ledger size.
        await write(res, `${CSV_COLUMNS.join(',')}\r\n`);
        let after: { at: string; id: string } | undefined;
        for (;;) {
          const rows = await ledgerPage(db, {
            tenantId,
            from: q.from,
            to: q.to,
            limit: CSV_BATCH,
            after,
            order: 'asc',
          });
          if (res.destroyed) return; // the client went away
          if (rows.length > 0) {
            const view = rows.map(eventView);
            await write(res, view.map((row) => csvRow(CSV_COLUMNS.map((c) => row[c]))).join(''));
          }
          const last = rows.at(-1);
          if (!last || rows.length < CSV_BATCH) break;
          after = { at: last.position, id: last.id };
        }
        res.end();
      },
    }),
  ];
}
