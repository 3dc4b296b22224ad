import type { Knex } from 'knex';
import type { Config } from '../../shared/config/config.ts';
import type { Metric } from '../../shared/jobs/estimate.ts';
import type { JobOutput, JobRow } from '../../shared/jobs/job-contract.ts';
import type { Logger } from '../../shared/logging/logger.ts';
import type { Mailer } from '../../shared/mail/mailer.ts';
import type { Producer } from '../../shared/queue/producer.ts';
import type { Storage } from '../../shared/storage/storage.ts';
import type { TtsProvider } from '../media/tts/tts-provider.ts';
import type { ChildJobs } from './child-jobs.ts';

/** A job row as the worker sees it (Postgres is the source of truth, not the queue payload). */
export type { JobRow };

/** What a step hands back; persisted with the step so a retry resumes after it. */
export interface StepOutcome<R = unknown> {
  /** JSON-serialisable result, available to later steps as `ctx.results[name]` */
  result?: R;
  /** Usage this step consumed; written to the ledger in the transaction that marks the step done */
  usage?: Array<{ metric: Metric; quantity: number }>;
  cacheHit?: boolean;
  /** The text-to-speech engine(s) that spoke this step's narration (`http`, `espeak-ng`, comma separated when mixed) */
  voiceEngine?: string;
  /** Set by the step that produces the job's downloadable output */
  output?: JobOutput;
  /** What the job produced besides a file (`jobs.result`, shown as the job's `result`): publish's video id and URL */
  jobResult?: Record<string, unknown>;
}

/** Services a step may use. Built once by the worker composition root. */
export interface StepServices {
  config: Config;
  db: Knex;
  logger: Logger;
  mailer: Mailer;
  storage: Storage;
  /** Text-to-speech engine (espeak-ng, or a hosted provider by configuration) */
  tts?: TtsProvider;
  /** BullMQ producers: the account deletion removes the tenant's queued jobs (absent: Redis is left alone) */
  producer?: Producer;
  /** Billing hooks of the metering feature (absent: local-ledger mode, nothing to close) */
  billing?: AccountBilling;
}

/** What the account deletion asks of billing. Filled by the metering feature. */
export interface AccountBilling {
  /**
   * Reports the tenant's last unreported usage, then deletes its Stripe customer. Runs before the
   * usage ledger is pseudonymised (the report still finds the tenant's rows); must be idempotent,
   * a crashed deletion calls it again.
   */
  deleteCustomer(tenantId: string, signal: AbortSignal): Promise<void>;
}

export interface StepContext<P = unknown> {
  services: StepServices;
  job: JobRow;
  /** The job's request, parsed with the kind's schema */
  payload: P;
  /** Aborted on the step deadline or on cancel: pass it to every child process and fetch */
  signal: AbortSignal;
  /** Results of the steps that finished before (this attempt or an earlier one) */
  results: Record<string, unknown>;
  /** A scratch directory for this attempt, removed afterwards */
  workDir: string;
  /** Progress within this step, 0..1; the runner maps it onto the job's overall progress */
  progress(fraction: number): Promise<void>;
  /** Hands work out as BullMQ child jobs of this job (absent when the job runs outside a worker) */
  children?: ChildJobs;
}

export interface StepDefinition<P = unknown> {
  name: string;
  /** Share of the job's progress bar this step covers (weights are normalised) */
  weight: number;
  /** Deadline in ms for this step of this job (default: STEP_TIMEOUT_SECONDS) */
  deadlineMs?: (ctx: { job: JobRow; payload: P; results: Record<string, unknown>; config: Config }) => number;
  run(ctx: StepContext<P>): Promise<StepOutcome>;
}
