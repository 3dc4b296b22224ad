import type { Estimate } from './estimate.ts';

/**
 * The job contract both halves share: what a job is (kinds, statuses, the row), and which
 * status changes exist and who makes them. `shared/jobs/job-repository.ts` is the only code
 * that writes `jobs` and `job_steps`, and it writes only these transitions.
 */

/**
 * What a tenant asked for. `render`/`tts`/`image` come from the jobs API, `export`/`deletion` from
 * the account API, `publish` from `POST /v1/jobs/:id/publish` (an upload of a render's output).
 */
export const JOB_KINDS = ['render', 'tts', 'image', 'export', 'deletion', 'publish'] as const;
export type JobKind = (typeof JOB_KINDS)[number];

export const JOB_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'canceled'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

/** A job a worker may still pick up or is running. */
export const OPEN_STATUSES = ['queued', 'running'] as const satisfies readonly JobStatus[];
export type OpenStatus = (typeof OPEN_STATUSES)[number];

/** No transition leaves these. */
export const FINAL_STATUS_LIST = ['succeeded', 'failed', 'canceled'] as const satisfies readonly JobStatus[];
export type FinalStatus = (typeof FINAL_STATUS_LIST)[number];
export const FINAL_STATUSES: ReadonlySet<JobStatus> = new Set(FINAL_STATUS_LIST);

export function isFinal(status: JobStatus): status is FinalStatus {
  return FINAL_STATUSES.has(status);
}

export function isOpen(status: JobStatus): status is OpenStatus {
  return !FINAL_STATUSES.has(status);
}

/** Who writes a transition: the API (a tenant's request), a worker running the job, or the reconciler. */
export type TransitionActor = 'api' | 'worker' | 'reconciler' | 'deletion';

export interface Transition {
  from: readonly JobStatus[];
  to: JobStatus;
  by: readonly TransitionActor[];
}

/**
 * Every status change a job can make. A write is conditional on `from`, so a late duplicate
 * (a stalled attempt, a reconciler racing a worker) changes nothing.
 *
 * - `start`: a worker takes the job for an attempt (a retry re-enters `running`); never once a
 *   cancel was requested.
 * - `cancelQueued`: the job never ran — a tenant's cancel, or the account deletion.
 * - `succeed` / `fail` / `cancel`: the attempt's end, written with the reservation's settlement
 *   and the callback in one transaction. `fail` is also how the reconciler ends a job the queue
 *   lost for good.
 */
export const TRANSITIONS = {
  start: { from: OPEN_STATUSES, to: 'running', by: ['worker'] },
  cancelQueued: { from: ['queued'], to: 'canceled', by: ['api', 'deletion'] },
  succeed: { from: OPEN_STATUSES, to: 'succeeded', by: ['worker'] },
  fail: { from: OPEN_STATUSES, to: 'failed', by: ['worker', 'reconciler'] },
  cancel: { from: OPEN_STATUSES, to: 'canceled', by: ['worker'] },
} as const satisfies Record<string, Transition>;

/** The final transition that writes each final status. */
export const FINISH: Record<FinalStatus, Transition> = {
  succeeded: TRANSITIONS.succeed,
  failed: TRANSITIONS.fail,
  canceled: TRANSITIONS.cancel,
};

/** A `jobs` row. Postgres is the source of truth; the queue carries ids only. */
export interface JobRow {
  id: string;
  tenant_id: string;
  kind: JobKind;
  status: JobStatus;
  progress: number;
  attempts: number;
  /** BullMQ priority from the tenant's plan (1 runs first; 0 = none). */
  priority: number;
  /** The request, as the kind's schema parsed it at submit (parse again before use: older code may have written it). */
  payload: unknown;
  estimate: Estimate;
  metadata: Record<string, unknown>;
  callback_url: string | null;
  created_by: string | null;
  error_code: string | null;
  error_message: string | null;
  output_key: string | null;
  output_content_type: string | null;
  output_bytes: number | null;
  output_duration_seconds: number | null;
  output_expires_at: Date | null;
  output_deleted_at: Date | null;
  /** What the job produced besides a file (publish: `{ destination, video_id, url }`); null otherwise. */
  result: Record<string, unknown> | null;
  /** Outbox marker: null until the BullMQ job is known to exist. */
  enqueued_at: Date | null;
  /** Times the reconciler re-added the job after BullMQ had failed it; internal, never shown to clients. */
  reenqueues: number;
  cancel_requested_at: Date | null;
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
  updated_at: Date;
}

export const STEP_STATUSES = ['running', 'succeeded', 'failed'] as const;
export type StepStatus = (typeof STEP_STATUSES)[number];

/** A `job_steps` row: one per job and step name; `result` lets a retry resume after it. */
export interface JobStepRow {
  job_id: string;
  name: string;
  position: number;
  status: StepStatus;
  attempt: number;
  cache_hit: boolean;
  /** Steps that speak: the engine(s) that did (`http`, `espeak-ng`, comma separated when mixed); else null. */
  voice_engine: string | null;
  result: unknown;
  error: string | null;
  started_at: Date | null;
  finished_at: Date | null;
}

/** What the submit and account use cases insert; the rest of the row takes its defaults. */
export interface NewJob {
  id: string;
  tenant_id: string;
  kind: JobKind;
  payload: unknown;
  estimate: Estimate;
  metadata: Record<string, unknown>;
  callback_url: string | null;
  created_by: string | null;
  priority: number;
}

/** The file a job produced, written with the step that produced it. */
export interface JobOutput {
  key: string;
  contentType: string;
  bytes: number;
  durationSeconds?: number;
  expiresAt?: Date;
}
