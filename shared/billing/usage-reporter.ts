import type { Knex } from 'knex';
import { backoffDelay } from '../async/backoff.ts';
import { mapLimit } from '../async/map-limit.ts';
import type { Metric } from '../jobs/estimate.ts';
import type { Logger } from '../logging/logger.ts';
import type { PlanCatalogue } from '../metering/plans.ts';
import type { Metrics } from '../metrics/metrics.ts';
import { isDuplicateMeterEvent, type Stripe, stripeStatus } from './stripe-client.ts';

export interface UsageReporterDeps {
  db: Knex;
  /** Null in local-ledger mode: the reporter stays idle. Build it with `maxNetworkRetries: 0`. */
  stripe: Stripe | null;
  plans: PlanCatalogue;
  logger: Logger;
  metrics?: Pick<Metrics, 'unreportedUsageAge' | 'usageReported'>;
  /** Ledger rows per run (default 200). */
  batchSize?: number;
  /** Meter events in flight at once (default 8; Stripe accepts 1,000/s in live mode). */
  concurrency?: number;
  /** Test seam: runs after the sends, before the marks are committed (throw = crash there). */
  afterSend?: (sentIds: string[]) => Promise<void> | void;
}

export interface ReportResult {
  /** false in local-ledger mode */
  active: boolean;
  delivered: number;
  /** Stripe already had the identifier (a resend after a crash): delivered earlier. */
  duplicates: number;
  /** Closed without a send: no meter for the metric, or older than Stripe accepts. */
  skipped: number;
  /** Left for a later run with backoff (429, 5xx, timeouts, other errors). */
  deferred: number;
}

interface PendingRow {
  id: string;
  metric: Metric;
  quantity: number;
  occurred_at: Date;
  report_attempts: number;
  stripe_customer_id: string;
  plan: string;
}

// Stripe takes meter events up to 35 days old; keep an hour of margin for clock skew.
const MAX_AGE_MS = 35 * 86_400_000 - 3_600_000;
const BACKOFF_BASE_MS = 30_000;
const BACKOFF_MAX_MS = 3_600_000;

type Outcome =
  | { id: string; kind: 'delivered' | 'duplicate' }
  | { id: string; kind: 'deferred'; error: string; transient: boolean };

/**
 * One run of `usage.report`: sends unreported ledger rows of tenants with a Stripe customer as
 * billing meter events and marks them reported.
 *
 * Exactly-once billing: rows are locked `FOR UPDATE SKIP LOCKED` for the run (parallel runs
 * split the work), each event carries `identifier` = the ledger row id, and the marks commit
 * after the sends. A crash between send and mark leaves the rows unreported; the next run sends
 * them again and Stripe answers 400 "already exists" for each, which counts as delivered.
 * (Stripe keeps identifiers for at least 24 hours; runs are a minute apart.)
 *
 * `value` is an integer: quantities are rounded up per ledger row (33.8 s → 34), so a customer is
 * billed at most one unit more per job step. `timestamp` is when the usage happened.
 *
 * 429, 5xx, timeouts and network errors stop the run (Stripe is unwell) and defer the row with
 * exponential backoff (30 s doubling to 1 h); other errors (e.g. no meter for the event name)
 * defer the row the same way and are logged at error. Nothing is dropped.
 */
export async function reportUsageBatch(deps: UsageReporterDeps): Promise<ReportResult> {
  const result: ReportResult = {
    active: !!deps.stripe,
    delivered: 0,
    duplicates: 0,
    skipped: 0,
    deferred: 0,
  };
  const stripe = deps.stripe;
  if (!stripe) return result;

  const reported = new Map<string, number>();
  await deps.db.transaction(async (trx) => {
    const rows = (await trx('usage_events as e')
      .join('tenants as t', 't.id', 'e.tenant_id')
      .select(
        'e.id',
        'e.metric',
        'e.quantity',
        'e.occurred_at',
        'e.report_attempts',
        't.stripe_customer_id',
        't.plan',
      )
      .whereNull('e.reported_at')
      .whereNotNull('t.stripe_customer_id')
      .where((q) => q.whereNull('e.report_after').orWhere('e.report_after', '<=', trx.fn.now()))
      .orderBy('e.occurred_at')
      .limit(deps.batchSize ?? 200)
      .forUpdate('e')
      .skipLocked()) as PendingRow[];
    if (rows.length === 0) return;

    const skipped: Array<{ id: string; outcome: 'not_metered' | 'too_old' }> = [];
    const toSend: Array<{ row: PendingRow; eventName: string }> = [];
    for (const row of rows) {
      const eventName = deps.plans.get(row.plan).stripe.meter_events[row.metric];
      if (!eventName) skipped.push({ id: row.id, outcome: 'not_metered' });
      else if (Date.now() - row.occurred_at.getTime() > MAX_AGE_MS) {
        deps.logger.error({ usage_event_id: row.id }, 'usage older than Stripe accepts; not billed');
        skipped.push({ id: row.id, outcome: 'too_old' });
      } else toSend.push({ row, eventName });
    }

    const outcomes = await sendAll(stripe, toSend, deps.concurrency ?? 8, deps.logger);
    const sent = outcomes.filter((o) => o.kind !== 'deferred').map((o) => o.id);
    await deps.afterSend?.(sent);

    for (const kind of ['delivered', 'duplicate'] as const) {
      const ids = outcomes.filter((o) => o.kind === kind).map((o) => o.id);
      if (ids.length > 0) {
        await trx('usage_events')
          .whereIn('id', ids)
          .update({ reported_at: trx.fn.now(), report_outcome: kind, report_error: null });
      }
    }
    for (const outcome of ['not_metered', 'too_old'] as const) {
      const ids = skipped.filter((s) => s.outcome === outcome).map((s) => s.id);
      if (ids.length > 0) {
        await trx('usage_events')
          .whereIn('id', ids)
          .update({ reported_at: trx.fn.now(), report_outcome: outcome });
      }
    }
    const byId = new Map(rows.map((r) => [r.id, r]));
    for (const o of outcomes) {
      const row = byId.get(o.id);
      if (row && o.kind !== 'deferred')
        reported.set(row.metric, (reported.get(row.metric) ?? 0) + row.quantity);
    }
    const attempts = new Map(rows.map((r) => [r.id, r.report_attempts]));
    for (const o of outcomes) {
      if (o.kind !== 'deferred') continue;
      const n = (attempts.get(o.id) ?? 0) + 1;
      const delay = backoffDelay({ baseMs: BACKOFF_BASE_MS, attempt: n, maxMs: BACKOFF_MAX_MS });
      await trx('usage_events')
        .where({ id: o.id })
        .update({
          report_attempts: n,
          report_after: new Date(Date.now() + delay),
          report_error: o.error.slice(0, 500),
        });
    }
    result.delivered = outcomes.filter((o) => o.kind === 'delivered').length;
    result.duplicates = outcomes.filter((o) => o.kind === 'duplicate').length;
    result.deferred = outcomes.filter((o) => o.kind === 'deferred').length;
    result.skipped = skipped.length;
  });

  // Counted once the marks are committed, so a rolled-back run counts nothing.
  for (const [metric, quantity] of reported) deps.metrics?.usageReported.inc({ metric }, quantity);
  await updateAgeGauge(deps);
  return result;
}

/** Sends with bounded concurrency; after the first transient failure no new send starts. */
async function sendAll(
  stripe: Stripe,
  items: Array<{ row: PendingRow; eventName: string }>,
  concurrency: number,
  logger: Logger,
): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  let halted = false;
  await mapLimit(items, concurrency, async (item) => {
    // Items not started before the halt stay unsent (unreported rows are picked up next run).
    if (halted) return;
    const outcome = await sendOne(stripe, item.row, item.eventName);
    outcomes.push(outcome);
    if (outcome.kind === 'deferred') {
      if (outcome.transient) halted = true;
      logger[outcome.transient ? 'warn' : 'error'](
        { usage_event_id: item.row.id, error: outcome.error },
        'meter event not delivered; retrying later',
      );
    }
  });
  return outcomes;
}

async function sendOne(stripe: Stripe, row: PendingRow, eventName: string): Promise<Outcome> {
  try {
    await stripe.billing.meterEvents.create({
      event_name: eventName,
      payload: {
        stripe_customer_id: row.stripe_customer_id,
        value: String(Math.ceil(row.quantity - 1e-9)),
      },
      identifier: row.id,
      timestamp: Math.floor(row.occurred_at.getTime() / 1000),
    });
    return { id: row.id, kind: 'delivered' };
  } catch (err) {
    if (isDuplicateMeterEvent(err)) return { id: row.id, kind: 'duplicate' };
    const status = stripeStatus(err);
    // No status: timeout or connection error. 401/403: a key problem no single row can fix.
    const transient =
      status === undefined || status === 429 || status >= 500 || status === 401 || status === 403;
    return {
      id: row.id,
      kind: 'deferred',
      transient,
      error: `${status ?? 'network'}: ${(err as Error).message}`,
    };
  }
}

/** Age of the oldest row still owed to Stripe (0 when none): alert when it passes a few minutes. */
async function updateAgeGauge(deps: UsageReporterDeps): Promise<void> {
  if (!deps.metrics) return;
  const row = (await deps
    .db('usage_events as e')
    .join('tenants as t', 't.id', 'e.tenant_id')
    .whereNull('e.reported_at')
    .whereNotNull('t.stripe_customer_id')
    .select(deps.db.raw('EXTRACT(EPOCH FROM now() - min(e.occurred_at))::float8 AS age'))
    .first()) as { age: number | null } | undefined;
  deps.metrics.unreportedUsageAge.set(Math.max(0, row?.age ?? 0));
}
