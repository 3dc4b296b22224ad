import type { Knex } from 'knex';
import type { Metrics } from '../../shared/metrics/metrics.ts';
import type { Producer } from '../../shared/queue/producer.ts';
import type { StepServices } from './step.ts';

/**
 * Reservation hooks of the metering feature: settle on success, release on failure/cancel.
 * Optional so the worker runs (and is tested) without plans.
 */
export interface QuotaHooks {
  settle(trx: Knex.Transaction, jobId: string): Promise<void>;
  release(trx: Knex.Transaction, jobId: string): Promise<void>;
}

/** Everything the worker process builds once and hands to runners and tasks. */
export interface WorkerServices extends StepServices {
  producer: Producer;
  metrics: Metrics;
  quota?: QuotaHooks;
}
