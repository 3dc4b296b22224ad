import type { Knex } from 'knex';
import type { Stripe } from '../../shared/billing/stripe-client.ts';
import type { EventWriter } from '../../shared/events/event-stream.ts';
import type { PlanCatalogue } from '../../shared/metering/plans.ts';
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
  /** The tenant event stream (`job.*`, `usage.threshold_reached`). */
  events: EventWriter;
  quota?: QuotaHooks;
  /** Plan catalogue (limits, priority, concurrent renders); absent: no per-plan limits. */
  plans?: PlanCatalogue;
  /** Stripe client for the usage reporter; null in local-ledger mode. */
  stripe?: Stripe | null;
}
