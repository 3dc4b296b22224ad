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
 * A reservation decided up to its one write: the plan, the amounts per metric, and the SQL that
 * books them, for a caller that runs the write inside a statement of its own (the API's submit
 * is one statement: claim, reserve, insert, audit).
 */
export interface PreparedReservation extends Reservation {
  /** The metrics to book, in lock order; empty: nothing to book (and no `job_reservations` row). */
  metrics: Metric[];
  /**
   * The conditional upsert of the counters, for a CTE: books every metric that fits its limit
   * (only `when` the SQL condition holds) and returns `metric` for each one booked. Fewer rows
   * than `metrics`: the reservation does not fit, and the statement must not commit.
   */
  counters(when: string): SqlPart;
  /** Records the reservation for the job rows `source` selects (`id`, `tenant_id`), for a CTE. */
  record(source: SqlPart): SqlPart;
  /** The 402 for a refused metric, with the counter as it stands. */
  refusal(db: Knex | Knex.Transaction, metric: Metric): Promise<QuotaExceededError>;
}

export interface QuotaService {
  /**
   * Resolves the plan (unless given), checks the hard storage limit (throws 402) and works out
   * the amounts to book; the booking itself is the caller's statement (`counters`, `record`).
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
    const limits = JSON.stringify(Object.fromEntries(items.map(([m]) => [m, hardLimit(m)])));
    return {
      plan,
      period,
      amounts,
      metrics: items.map(([m]) => m),
      // One statement for all metrics, in metric order (a fixed lock order). A row that would
      // pass its limit is neither inserted nor updated, so it is missing from RETURNING.
      counters: (when) => ({
        sql: `INSERT INTO usage_counters AS c (tenant_id, period_start, metric, used, reserved, updated_at)
              SELECT ?, ?::date, x.metric, 0, x.amount, now()
              FROM unnest(?::text[], ?::float8[]) AS x(metric, amount)
              WHERE (${when})
                AND x.amount <= COALESCE((?::jsonb ->> x.metric)::float8, 'Infinity'::float8) + ${EPSILON}
              ORDER BY x.metric
              ON CONFLICT (tenant_id, period_start, metric) DO UPDATE
                SET reserved = c.reserved + EXCLUDED.reserved, updated_at = now()
                WHERE c.used + c.reserved + EXCLUDED.reserved
                      <= COALESCE((?::jsonb ->> c.metric)::float8, 'Infinity'::float8) + ${EPSILON}
              RETURNING c.metric`,
        bindings: [input.tenantId, period, items.map(([m]) => m), items.map(([, q]) => q), limits, limits],
      }),
      record: (source) => ({
        sql: `INSERT INTO job_reservations (job_id, tenant_id, period_start, amounts)
              SELECT s.id, s.tenant_id, ?::date, ?::jsonb FROM (${source.sql}) AS s`,
        bindings: [period, JSON.stringify(amounts), ...source.bindings],
      }),
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
      const counters = r.counters('true');
      const result = await trx.raw<{ rows: Array<{ metric: Metric }> }>(counters.sql, counters.bindings);
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
      const record = r.record({
        sql: 'SELECT ?::text AS id, ?::text AS tenant_id',
        bindings: [input.jobId, input.tenantId],
      });
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
