import type { Knex } from 'knex';
import type { TenantGenerations } from '../../shared/auth/tenant-generation.ts';
import type { Config } from '../../shared/config/config.ts';
import type { Metric } from '../../shared/jobs/estimate.ts';
import type { JobOutput, JobRow } from '../../shared/jobs/job-contract.ts';
import type { Logger } from '../../shared/logging/logger.ts';
import type { Mailer } from '../../shared/mail/mailer.ts';
import type { Producer } from '../../shared/queue/producer.ts';
import type { Storage } from '../../shared/storage/storage.ts';
import { type SafeParser, toJsonPointer } from '../../shared/validation/parse.ts';
import type { TtsProvider } from '../media/tts/tts-provider.ts';
import type { ChildJobs } from './child-jobs.ts';
import { TaskError } from './job-errors.ts';

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
  /** Bumped after a step revokes a tenant's access (account deletion): API replicas cache it. */
  generations: Pick<TenantGenerations, 'bump'>;
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

/**
 * Results of the steps that finished before, by step name, as the runner holds them: JSON from
 * `job_steps` (an earlier attempt, perhaps by older code) or from this attempt. A step reads them
 * through a schema ({@link readingStep}), never by casting.
 */
export type StepResults = Readonly<Record<string, unknown>>;

export interface StepContext<P = unknown, Reads = StepResults> {
  services: StepServices;
  job: JobRow;
  /** The job's request, parsed with the kind's schema */
  payload: P;
  /** Aborted on the step deadline or on cancel: pass it to every child process and fetch */
  signal: AbortSignal;
  /** Results of the steps that finished before (this attempt or an earlier one) */
  results: Reads;
  /** A scratch directory for this attempt, removed afterwards */
  workDir: string;
  /** Progress within this step, 0..1; the runner maps it onto the job's overall progress */
  progress(fraction: number): Promise<void>;
  /** Hands work out as BullMQ child jobs of this job (absent when the job runs outside a worker) */
  children?: ChildJobs;
}

export interface DeadlineContext<P = unknown, Reads = StepResults> {
  job: JobRow;
  payload: P;
  results: Reads;
  config: Config;
}

/**
 * One step of a tenant job. `R` is its result (stored with the step, handed to later steps), `N`
 * its name: a literal name lets {@link steps} type what later steps may read of it.
 */
export interface StepDefinition<P = unknown, R = unknown, N extends string = string> {
  name: N;
  /** Share of the job's progress bar this step covers (weights are normalised) */
  weight: number;
  /** Deadline in ms for this step of this job (default: STEP_TIMEOUT_SECONDS) */
  deadlineMs?: (ctx: DeadlineContext<P>) => number;
  run(ctx: StepContext<P>): Promise<StepOutcome<R>>;
}

/** A step that reads results of earlier steps: `reads` is their schema, by step name. */
export interface ReadingStepSpec<P, Reads, R, N extends string> {
  name: N;
  weight: number;
  /**
   * Parses the results this step reads (a z.object by step name; what it leaves out stays unread).
   * Stored results come back from Postgres, written perhaps by older code, so they are parsed
   * like any other input.
   */
  reads: SafeParser<Reads>;
  deadlineMs?: (ctx: DeadlineContext<P, Reads>) => number;
  run(ctx: StepContext<P, Reads>): Promise<StepOutcome<R>>;
}

/** A reading step as the runner runs it; `reads` stays visible so {@link steps} can check it. */
export type ReadingStep<P, Reads, R, N extends string> = StepDefinition<P, R, N> & {
  readonly reads: SafeParser<Reads>;
};

/**
 * Makes a step that reads earlier results: the runner hands every step the raw results, and this
 * one parses what it reads before its deadline and its run see them. Results that do not parse
 * cannot be fixed by a retry (it would load the same rows): the job fails with `step_failed`.
 */
export function readingStep<P, Reads, R, N extends string>(
  spec: ReadingStepSpec<P, Reads, R, N>,
): ReadingStep<P, Reads, R, N> {
  const read = (results: StepResults): Reads => {
    const parsed = spec.reads.safeParse(results);
    if (parsed.success) return parsed.data;
    const issue = parsed.error.issues[0];
    throw new TaskError(
      `step ${spec.name}: the results it reads do not parse (${issue ? `${toJsonPointer(issue.path)}: ${issue.message}` : 'invalid'})`,
      'step_failed',
      false,
    );
  };
  const { deadlineMs } = spec;
  return {
    name: spec.name,
    weight: spec.weight,
    reads: spec.reads,
    ...(deadlineMs ? { deadlineMs: (ctx) => deadlineMs({ ...ctx, results: read(ctx.results) }) } : {}),
    run: (ctx) => spec.run({ ...ctx, results: read(ctx.results) }),
  };
}

/** What a step leaves for later steps to read: `{ [name]: result }` (nothing for a step of no literal name). */
type Leaves<S> = S extends { name: infer N extends string; run(ctx: never): Promise<StepOutcome<infer R>> }
  ? string extends N
    ? unknown
    : { [K in N]: R }
  : never;

/** What a step made by {@link readingStep} reads; nothing for other steps. */
type ReadsOf<S> = S extends { readonly reads: SafeParser<infer Reads> } ? Reads : unknown;

/** The ordered steps of a job, and (as types) the results they leave, by step name. */
export interface StepList<P, Have> {
  readonly steps: readonly StepDefinition<P>[];
  /**
   * Appends a step. A step that reads results of earlier steps compiles only when steps before it,
   * under those names, leave results of the types it reads.
   */
  add<S extends StepDefinition<P>>(
    step: S & (Have extends ReadsOf<S> ? unknown : { reads: 'reads results that no earlier step leaves' }),
  ): StepList<P, Have & Leaves<S>>;
}

/** Starts a job's step list: `steps<RenderRequest>().add(narration).add(images).add(compose)`. */
export function steps<P>(): StepList<P, unknown> {
  return list<P, unknown>([]);
}

function list<P, Have>(done: readonly StepDefinition<P>[]): StepList<P, Have> {
  return {
    steps: done,
    add: (step) => list([...done, step]),
  };
}
