import type { Knex } from 'knex';
import type { TableRow } from '../db/tables.ts';
import type { Metric } from '../jobs/estimate.ts';
import { counterPeriod, STORAGE_PERIOD } from './periods.ts';

type Db = Knex | Knex.Transaction;

/** One ledger row that was actually inserted (a duplicate never reaches the counters). */
export interface AppliedUsage {
  tenantId: string;
  jobId: string;
  metric: Metric;
  quantity: number;
  occurredAt: Date;
}

/**
 * Adds a new ledger row to its period's `used`, and takes what it consumed off the job's
 * reservation (and off the counter's `reserved`), so `used + reserved` only grows when a job
 * uses more than it reserved. Runs in the ledger write's transaction.
 *
 * Lock order, everywhere: the job's reservation row first, then counters in (period, metric)
 * order; `reserve` never touches an existing reservation, so the two cannot deadlock.
 */
export async function applyUsage(trx: Knex.Transaction, u: AppliedUsage): Promise<void> {
  const res = (await trx('job_reservations')
    .select(trx.raw('period_start::text AS period_start'), 'amounts')
    .where({ job_id: u.jobId })
    .whereNull('settled_at')
    .forUpdate()
    .first()) as { period_start: string; amounts: Record<string, number> } | undefined;

  let consumed = 0;
  if (res) {
    const left = Number(res.amounts[u.metric] ?? 0);
    consumed = Math.min(left, u.quantity);
    if (consumed > 0) {
      await trx('job_reservations')
        .where({ job_id: u.jobId })
        .update({
          amounts: trx.raw('jsonb_set(amounts, ARRAY[?::text], to_jsonb(?::float8))', [
            u.metric,
            left - consumed,
          ]),
        });
    }
  }

  const period = counterPeriod(u.metric, u.occurredAt);
  const samePeriod = res?.period_start === period;
  await trx.raw(
    `INSERT INTO usage_counters AS c (tenant_id, period_start, metric, used, reserved, updated_at)
     VALUES (?, ?::date, ?, ?, 0, now())
     ON CONFLICT (tenant_id, period_start, metric) DO UPDATE
       SET used = c.used + EXCLUDED.used, reserved = GREATEST(c.reserved - ?, 0), updated_at = now()`,
    [u.tenantId, period, u.metric, u.quantity, samePeriod ? consumed : 0],
  );
  if (res && !samePeriod && consumed > 0) {
    // The job was reserved in an earlier month and finished in this one.
    await releaseReserved(trx, u.tenantId, res.period_start, { [u.metric]: consumed });
  }
}

/** Takes amounts off `reserved` of one period's counters (never below 0). */
export async function releaseReserved(
  trx: Knex.Transaction,
  tenantId: string,
  period: string,
  amounts: Partial<Record<string, number>>,
): Promise<void> {
  const entries = Object.entries(amounts)
    .filter((e): e is [string, number] => typeof e[1] === 'number' && e[1] > 0)
    .sort(([a], [b]) => a.localeCompare(b));
  if (entries.length === 0) return;
  await trx.raw(
    `UPDATE usage_counters AS c SET reserved = GREATEST(c.reserved - x.amount, 0), updated_at = now()
     FROM (SELECT * FROM unnest(?::text[], ?::float8[]) AS u(metric, amount) ORDER BY metric) AS x
     WHERE c.tenant_id = ? AND c.period_start = ?::date AND c.metric = x.metric`,
    [entries.map(([m]) => m), entries.map(([, a]) => a), tenantId, period],
  );
}

/**
 * Storage goes down when an output is deleted or expires: call with the output's bytes in the
 * transaction that marks it deleted.
 */
export async function releaseStorage(trx: Db, tenantId: string, bytes: number): Promise<void> {
  if (!(bytes > 0)) return;
  await trx('usage_counters')
    .where({ tenant_id: tenantId, period_start: STORAGE_PERIOD, metric: 'storage_bytes' })
    .update({ used: trx.raw('GREATEST(used - ?, 0)', [bytes]), updated_at: trx.fn.now() });
}

export type CounterRow = Pick<TableRow<'usage_counters'>, 'metric' | 'used' | 'reserved'>;

/** The counters of one tenant for one month, with storage (from its fixed period). */
export async function readCounters(db: Db, tenantId: string, period: string): Promise<CounterRow[]> {
  return db('usage_counters')
    .select('metric', 'used', 'reserved')
    .where({ tenant_id: tenantId })
    .where((q) =>
      q.where({ period_start: period }).orWhere({ period_start: STORAGE_PERIOD, metric: 'storage_bytes' }),
    );
}
