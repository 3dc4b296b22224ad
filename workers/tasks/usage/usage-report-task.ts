import type { Knex } from 'knex';
import type { Stripe } from '../../../shared/billing/stripe-client.ts';
import { type ReportResult, reportUsageBatch } from '../../../shared/billing/usage-reporter.ts';
import type { Logger } from '../../../shared/logging/logger.ts';
import type { PlanCatalogue } from '../../../shared/metering/plans.ts';
import type { Metrics } from '../../../shared/metrics/metrics.ts';

export interface UsageReportDeps {
  db: Knex;
  /** `createStripeClient({ …, maxNetworkRetries: 0 })`, or null in local-ledger mode. */
  stripe: Stripe | null;
  plans: PlanCatalogue;
  logger: Logger;
  metrics: Pick<Metrics, 'unreportedUsageAge' | 'usageReported'>;
}

// A run sends at most this many batches, so one run cannot outlast the next minute's schedule.
const MAX_BATCHES = 10;
const BATCH_SIZE = 200;

/**
 * usage.report — scheduled every minute: sends unreported ledger rows to Stripe meter events
 * (idle in local-ledger mode), batch after batch while batches come back full and Stripe is
 * healthy. Safe to run concurrently with itself and to repeat after a crash.
 */
export async function runUsageReport(deps: UsageReportDeps): Promise<ReportResult> {
  const total: ReportResult = { active: !!deps.stripe, delivered: 0, duplicates: 0, skipped: 0, deferred: 0 };
  for (let i = 0; i < MAX_BATCHES && deps.stripe; i++) {
    const r = await reportUsageBatch({ ...deps, batchSize: BATCH_SIZE });
    total.delivered += r.delivered;
    total.duplicates += r.duplicates;
    total.skipped += r.skipped;
    total.deferred += r.deferred;
    if (r.deferred > 0 || r.delivered + r.duplicates + r.skipped < BATCH_SIZE) break;
  }
  if (total.delivered + total.duplicates + total.deferred > 0) deps.logger.info(total, 'usage report');
  return total;
}
