import type { Knex } from 'knex';
import { newId } from '../ids/ids.ts';
import type { Metric } from '../jobs/estimate.ts';

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
 * unique key and writes nothing. Returns the rows actually inserted (so per-period counters
 * are bumped only for those).
 */
export async function recordUsage(trx: Knex.Transaction, records: UsageRecord[]): Promise<UsageRecord[]> {
  const inserted: UsageRecord[] = [];
  for (const r of records) {
    if (!(r.quantity > 0)) continue;
    const rows = await trx('usage_events')
      .insert({
        id: newId('evt'),
        tenant_id: r.tenantId,
        job_id: r.jobId,
        step: r.step,
        metric: r.metric,
        quantity: r.quantity,
        occurred_at: r.occurredAt ?? new Date(),
      })
      .onConflict(['job_id', 'step', 'metric'])
      .ignore()
      .returning('id');
    if (rows.length > 0) inserted.push(r);
  }
  return inserted;
}
