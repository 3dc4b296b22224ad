import type { Knex } from 'knex';
import type { SqlPart } from '../db/sql-part.ts';
import { QuotaExceededError } from '../errors/http-errors.ts';
import { type Estimate, METRICS, type Metric } from '../jobs/estimate.ts';
import { FINAL_STATUS_LIST, type JobKind } from '../jobs/job-contract.ts';
import { periodKey, periodOf, STORAGE_PERIOD } from './periods.ts';
import type { Plan, PlanCatalogue } from './plans.ts';
import { tenantPlan } from './tenant-plan.ts';
import { releaseReserved } from './usage-counters.ts';

export interface ReserveInput {
  tenantId: string;
  jobId: string;
  kind: JobKind;
  estimate: Estimate;
  /** Clock override for tests; default now. */
  now?: Date;
  /**
   * The plan that applies to the tenant now, when the caller has read it already (the API reads
   * it once per request, from its auth cache); absent: read from Postgres in `trx`.
   */
  plan?: Plan;
}

export interface Reservation {
  /** The plan whose limits applied (its priority / concurrency apply to the job too). */
  plan: Plan;
  period: string;
  amounts: Partial<Record<Metric, number>>;
}

/**
 * A reservation decided up to its one write: the plan, the amounts per metric and their limits,
 * for a caller that books it inside a statement of its own with `bookingSql` (the API's submit
 * is one statement for many submissions: claim, reserve, insert, audit).
 */
export interface PreparedReservation extends Reservation {
  tenantId: string;
  jobId: string;
  /** The metrics to book, in lock order; empty: nothing to book (and no `job_reservations` row). */
  metrics: Metric[];
  /** The hard limit per metric booked (null: none, the plan has overage or no limit). */
  limits: Partial<Record<Metric, number | null>>;
  /** The 402 for a refused metric, with the counter as it stands. */
  refusal(db: Knex | Knex.Transaction, metric: Metric): Promise<QuotaExceededError>;
}

/**
 * The SQL that books many prepared reservations in one statement, as CTEs. `only` is a subquery
 * of the job ids to book (the ones whose submission goes ahead).
 * - `counters`: one conditional upsert of the counters, each (tenant, period, metric) raised by
 *   the sum over its jobs, in (tenant, period, metric) order (a fixed lock order). A counter whose
 *   sum would pass its limit is neither inserted nor updated: it is missing from `RETURNING
 *   tenant_id, period_start, metric`. Limits are the strictest any of the jobs' plans gives.
 * - `unbooked`, given the name of the `counters` CTE: the (job_id, metric) that did not fit. Any
 *   row there means the statement must not commit (raise, so the counters it did raise are undone).
 * - `record`: the `job_reservations` rows of the jobs that `only` selects.
 */
export function bookingSql(bookings: readonly PreparedReservation[], only: SqlPart) {
  const lines = bookings.flatMap((b) =>
    b.metrics.map((metric) => ({
      job_id: b.jobId,
      tenant_id: b.tenantId,
      period_start: b.period,
      metric,
      amount: b.amounts[metric] ?? 0,
      lim: b.limits[metric] ?? null,
    })),
  );
  const linesSql = `jsonb_to_recordset(?::jsonb)
      AS x(job_id text, tenant_id text, period_start date, metric text, amount float8, lim float8)`;
  // The limit a counter is held to, for its ON CONFLICT branch: tenant → metric → limit.
  const limits: Record<string, Record<string, number>> = {};
  for (const l of lines) {
    if (l.lim === null) continue;
    limits[l.tenant_id] ??= {};
    const t = limits[l.tenant_id]!;
    t[l.metric] = Math.min(t[l.metric] ?? Number.POSITIVE_INFINITY, l.lim);
  }
  const linesJson = JSON.stringify(lines);
  const limitsJson = JSON.stringify(limits);
  const withBookings = bookings.filter((b) => b.metrics.length > 0);
  return {
    counters: {
      sql: `INSERT INTO usage_counters AS c (tenant_id, period_start, metric, used, reserved, updated_at)
            SELECT x.tenant_id, x.period_start, x.metric, 0, sum(x.amount), now()
            FROM ${linesSql}
            WHERE x.job_id IN (${only.sql})
            GROUP BY x.tenant_id, x.period_start, x.metric
            HAVING sum(x.amount) <= COALESCE(min(x.lim), 'Infinity'::float8) + ${EPSILON}
            ORDER BY x.tenant_id, x.period_start, x.metric
            ON CONFLICT (tenant_id, period_start, metric) DO UPDATE
              SET reserved = c.reserved + EXCLUDED.reserved, updated_at = now()
              WHERE c.used + c.reserved + EXCLUDED.reserved
                    <= COALESCE((?::jsonb -> c.tenant_id ->> c.metric)::float8, 'Infinity'::float8) + ${EPSILON}
            RETURNING c.tenant_id, c.period_start, c.metric`,
      bindings: [linesJson, ...only.bindings, limitsJson],
    } satisfies SqlPart,
    unbooked: (counters: string): SqlPart => ({
      sql: `SELECT x.job_id, x.metric FROM ${linesSql}
            WHERE x.job_id IN (${only.sql})
              AND NOT EXISTS (SELECT 1 FROM ${counters} r
                              WHERE r.tenant_id = x.tenant_id AND r.period_start = x.period_start AND r.metric = x.metric)`,
      bindings: [linesJson, ...only.bindings],
    }),
    /** `recorded`: a subquery of the job ids whose reservation is recorded (the jobs inserted). */
    record: (recorded: SqlPart): SqlPart => ({
      sql: `INSERT INTO job_reservations (job_id, tenant_id, period_start, amounts)
            SELECT b.job_id, b.tenant_id, b.period_start, b.amounts
            FROM jsonb_to_recordset(?::jsonb) AS b(job_id text, tenant_id text, period_start date, amounts jsonb)
            WHERE b.job_id IN (${recorded.sql})`,
      bindings: [
        JSON.stringify(
          withBookings.map((b) => ({
            job_id: b.jobId,
            tenant_id: b.tenantId,
            period_start: b.period,
            amounts: b.amounts,
          })),
        ),
        ...recorded.bindings,
      ],
    }),
  };
}

export interface QuotaService {
  /**
   * Resolves the plan (unless given), checks the hard storage limit (throws 402) and works out
   * the amounts to book; the booking itself is the caller's statement (`bookingSql`).
   */
  prepare(db: Knex | Knex.Transaction, input: ReserveInput): Promise<PreparedReservation>;
  /**
   * Reserves a job's estimate in the caller's transaction (the one that inserts the job).
   * Hard limits (plans without overage) hold under any concurrency: one conditional upsert per
   * submission, so `used + reserved + estimate ≤ limit` is decided on the locked counter row.
   * Over a limit → throws `QuotaExceededError` (402) and the caller's transaction must roll back.
   * Overage and unlimited plans always pass, but still reserve (for `GET /v1/usage`).
   */
  reserve(trx: Knex.Transaction, input: ReserveInput): Promise<Reservation>;
  /**
   * Frees what `reserve` booked for a job that will never run: called inside the transaction
   * that cancels a still-queued job (no worker sees that job, so none can settle it).
   */
  release(trx: Knex.Transaction, input: { tenantId: string; jobId: string }): Promise<void>;
}

// Kinds that produce an output held in storage (checked against a hard storage limit).
const OUTPUT_KINDS: ReadonlySet<JobKind> = new Set(['render', 'tts', 'image']);
// Estimates are decimals (33.8 s); a sum of them must not miss an exact fit by a rounding error.
const EPSILON = 1e-9;

export function createQuotaService(deps: { plans: PlanCatalogue }): QuotaService {
  async function prepare(db: Knex | Knex.Transaction, input: ReserveInput): Promise<PreparedReservation> {
    const now = input.now ?? new Date();
    const plan = input.plan ?? (await tenantPlan(db, deps.plans, input.tenantId, now));
    const period = periodKey(now);
    const resetsAt = periodOf(now).end.toISOString();
    const hardLimit = (m: Metric) => (plan.overage ? null : plan.limits[m]);

    if (OUTPUT_KINDS.has(input.kind)) await checkStorage(db, input, hardLimit('storage_bytes'), resetsAt);

    const items = METRICS.filter((m) => m !== 'storage_bytes')
      .map((m) => [m, input.estimate[m] ?? 0] as const)
      .filter(([, q]) => q > 0);
    const amounts: Partial<Record<Metric, number>> = Object.fromEntries(items);
    return {
      tenantId: input.tenantId,
      jobId: input.jobId,
      plan,
      period,
      amounts,
      metrics: items.map(([m]) => m),
      limits: Object.fromEntries(items.map(([m]) => [m, hardLimit(m)])),
      async refusal(db, metric) {
        const row = await counter(db, input.tenantId, period, metric);
        return new QuotaExceededError({
          metric,
          limit: hardLimit(metric) ?? 0,
          used: row.used,
          reserved: row.reserved,
          requested: amounts[metric] ?? 0,
          resets_at: resetsAt,
        });
      },
    };
  }

  return {
    prepare,
    release: (trx, { jobId }) => release(trx, jobId),
    async reserve(trx, input) {
      const r = await prepare(trx, input);
      const { plan, period, amounts } = r;
      if (r.metrics.length === 0) return { plan, period, amounts };
      const thisJob: SqlPart = { sql: 'SELECT ?::text', bindings: [input.jobId] };
      const booking = bookingSql([r], thisJob);
      const result = await trx.raw<{ rows: Array<{ metric: Metric }> }>(
        booking.counters.sql,
        booking.counters.bindings,
      );
      const granted = new Set(result.rows.map((row) => row.metric));
      const refused = r.metrics.find((m) => !granted.has(m));
      if (refused) {
        // Undo the metrics that did fit, so a caller that swallows the error leaks nothing.
        await releaseReserved(
          trx,
          input.tenantId,
          period,
          Object.fromEntries(r.metrics.filter((m) => granted.has(m)).map((m) => [m, amounts[m]])),
        );
        throw await r.refusal(trx, refused);
      }
      const record = booking.record(thisJob);
      await trx.raw(record.sql, record.bindings);
      return { plan, period, amounts };
    },
  };
}

async function counter(db: Knex | Knex.Transaction, tenantId: string, period: string, metric: Metric) {
  const row = await db('usage_counters')
    .select('used', 'reserved')
    .where({ tenant_id: tenantId, period_start: period, metric })
    .first();
  return row ?? { used: 0, reserved: 0 };
}

/**
 * Storage is not reserved (an output's size is unknown before it exists): a tenant at or over a
 * hard storage limit cannot start more output-producing jobs until outputs are deleted or expire.
 */
async function checkStorage(
  trx: Knex | Knex.Transaction,
  input: ReserveInput,
  limit: number | null,
  resetsAt: string,
): Promise<void> {
  if (limit === null) return;
  const row = await counter(trx, input.tenantId, STORAGE_PERIOD, 'storage_bytes');
  const requested = input.estimate.storage_bytes ?? 0;
  if (row.used >= limit || row.used + row.reserved + requested > limit + EPSILON) {
    throw new QuotaExceededError({ metric: 'storage_bytes', limit, ...row, requested, resets_at: resetsAt });
  }
}

type Outcome = 'settled' | 'released' | 'swept';

async function finish(trx: Knex.Transaction, jobId: string, outcome: Outcome): Promise<boolean> {
  const res = (await trx('job_reservations')
    .select('tenant_id', trx.raw('period_start::text AS period_start'), 'amounts')
    .where({ job_id: jobId })
    .whereNull('settled_at')
    .forUpdate()
    .first()) as { tenant_id: string; period_start: string; amounts: Record<string, number> } | undefined;
  if (!res) return false;
  await releaseReserved(trx, res.tenant_id, res.period_start, res.amounts);
  await trx('job_reservations').where({ job_id: jobId }).update({ settled_at: trx.fn.now(), outcome });
  return true;
}

/**
 * The job succeeded: call in the transaction that marks it succeeded. Its steps' usage already
 * moved from `reserved` to `used` as the ledger rows were written; what is left of the
 * estimate is released. A no-op when there is nothing (left) to settle — safe to repeat.
 */
export async function settle(trx: Knex.Transaction, jobId: string): Promise<void> {
  await finish(trx, jobId, 'settled');
}

/**
 * The job failed or was canceled: call in the transaction that marks it so. Usage of finished
 * steps stays in `used`; the rest of the reservation is released. Safe to repeat.
 */
export async function release(trx: Knex.Transaction, jobId: string): Promise<void> {
  await finish(trx, jobId, 'released');
}

/**
 * Releases reservations of jobs that reached a final status without settling, and of jobs that
 * no longer exist (older than `orphanAfterMs`, default 10 min). Each in its own transaction.
 * Returns how many were released. Scheduled as `reservations.sweep`.
 */
export async function sweepUnsettled(
  db: Knex,
  opts: { orphanAfterMs?: number; batch?: number } = {},
): Promise<number> {
  const orphanAfter = `${Math.round((opts.orphanAfterMs ?? 600_000) / 1000)} seconds`;
  const rows = (await db('job_reservations as r')
    .leftJoin('jobs as j', 'j.id', 'r.job_id')
    .select('r.job_id')
    .whereNull('r.settled_at')
    .where((q) =>
      q
        .whereIn('j.status', FINAL_STATUS_LIST)
        .orWhere((o) =>
          o.whereNull('j.id').where('r.created_at', '<', db.raw('now() - ?::interval', [orphanAfter])),
        ),
    )
    .orderBy('r.created_at')
    .limit(opts.batch ?? 500)) as Array<{ job_id: string }>;
  let released = 0;
  for (const { job_id } of rows) {
    if (await db.transaction((trx) => finish(trx, job_id, 'swept'))) released += 1;
  }
  return released;
}
