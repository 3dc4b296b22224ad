import type { Knex } from 'knex';
import type { Estimate } from '../../../shared/jobs/estimate.ts';
import type { ImageRequest, RenderRequest, TtsRequest } from '../../../shared/jobs/job-requests.ts';
import type { JobKind } from '../../../shared/queue/queues.ts';

/** A parsed job submission; `kind` narrows `request`. */
export type JobSubmission =
  | { kind: 'render'; request: RenderRequest }
  | { kind: 'tts'; request: TtsRequest }
  | { kind: 'image'; request: ImageRequest };

export interface ReserveArgs {
  tenantId: string;
  jobId: string;
  kind: JobKind;
  estimate: Estimate;
}

/**
 * Books a submission's estimate against the tenant's quota, inside the transaction that inserts
 * the job (the job row already exists in `trx`). Throwing — a `QuotaExceededError` (402) — aborts
 * that transaction: no job, no idempotency record, no audit entry, nothing enqueued.
 */
/** May answer the queue priority the tenant's plan gives its jobs (BullMQ: 1 runs first). */
export type ReserveQuota = (
  trx: Knex.Transaction,
  args: ReserveArgs,
) => Promise<{ priority?: number } | undefined>;

/**
 * Frees what `ReserveQuota` booked for a job that will never run: called inside the transaction
 * that cancels a still-queued job (the worker never sees that job, so it cannot settle it).
 */
export type ReleaseQuota = (
  trx: Knex.Transaction,
  args: { tenantId: string; jobId: string },
) => Promise<void>;

/** Plan gate, before any write: throws `UpgradeRequiredError` (403) when the plan does not allow the request. */
export type PlanGate = (args: JobSubmission & { tenantId: string }) => Promise<void>;

/** Defaults until metering plugs the quota service in (`api/main.ts`). */
export const noReservation: ReserveQuota = async () => undefined;
export const noRelease: ReleaseQuota = async () => {};
export const noPlanGate: PlanGate = async () => {};
