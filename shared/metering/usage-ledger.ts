import type { Knex } from 'knex';
import { newId } from '../ids/ids.ts';
import type { Metric } from '../jobs/estimate.ts';
import { applyUsage } from './usage-counters.ts';

export interface UsageRecord {
  tenantId: string;
  jobId: string;
  step: string;
  metric: Metric;
  quantity: number;
  occurredAt?: Date;
}

/**
 * Writes usage to the ledger, exactly once per (job, step, metric): call it inside the
 * transaction that marks the step done. A retried or stalled step that finishes again hits the
 * unique key and writes nothing. Returns the rows actually inserted; each of those is also
 * added to its period's `usage_counters.used` (and taken off the job's reservation) here, in
 * the same transaction.
 */
export async function recordUsage(trx: Knex.Transaction, records: UsageRecord[]): Promise<UsageRecord[]> {
  const inserted: UsageRecord[] = [];
  // Counter rows are locked in metric order everywhere, so two jobs of a tenant cannot deadlock.
  const ordered = [...records].sort((a, b) => a.metric.localeCompare(b.metric));
  for (const r of ordered) {
    if (!(r.quantity > 0)) continue;
    const occurredAt = r.occurredAt ?? new Date();
    const rows = await trx('usage_events')
      .insert({
        id: newId('evt'),
        tenant_id: r.tenantId,
        job_id: r.jobId,
        step: r.step,
        metric: r.metric,
        quantity: r.quantity,
        occurred_at: occurredAt,
      })
      .onConflict(['job_id', 'step', 'metric'])
      .ignore()
      .returning('id');
    if (rows.length === 0) continue;
    inserted.push(r);
    await applyUsage(trx, { ...r, occurredAt });
  }
  return inserted;
}

/** Usage per job and metric, summed over steps (the ledger has one row per job, step, metric). */
export interface JobUsage {
  job_id: string;
  metric: string;
  quantity: number;
}

export async function usageByJob(
  db: Knex | Knex.Transaction,
  tenantId: string,
  jobIds: string[],
): Promise<JobUsage[]> {
  if (jobIds.length === 0) return [];
  const rows: Array<Record<string, unknown>> = await db('usage_events')
    .select('job_id', 'metric')
    .sum({ quantity: 'quantity' })
    .where({ tenant_id: tenantId })
    .whereIn('job_id', jobIds)
    .groupBy('job_id', 'metric')
    .orderBy('metric');
  return rows.map((r) => ({
    job_id: String(r.job_id),
    metric: String(r.metric),
    quantity: Number(r.quantity),
  }));
}
