import type { Http } from './http.ts';
import type { Job, StreamedEvent } from './types.ts';
export interface WaitOptions {
  /** Called with each progress change (0..1) and the event or poll that brought it. */
  onProgress?: (
    progress: number,
    info: {
      step?: string;
      event?: StreamedEvent;
      job?: Job;
    },
  ) => void;
  signal?: AbortSignal;
  /** Give up waiting (the job goes on) after this long. Default: no limit. */
  timeoutMs?: number;
  /** Polling interval while the event stream is unavailable, and as a safety net. Default 2000 ms. */
  pollIntervalMs?: number;
}
/** A submitted job. `wait()` resolves with the succeeded job, or throws JobFailedError / JobCanceledError. */
export declare class JobHandle {
  private readonly http;
  /** The job as the submit answered it. */
  readonly job: Job;
  /** Whether an earlier request with the same Idempotency-Key made this job. */
  readonly replayed: boolean;
  constructor(
    http: Http,
    /** The job as the submit answered it. */
    job: Job,
    /** Whether an earlier request with the same Idempotency-Key made this job. */
    replayed: boolean,
  );
  get id(): string;
  /**
   * Waits for the job to end, following `GET /v1/events?job_id=` and polling `GET /v1/jobs/:id`
   * alongside (and alone when the stream is unavailable), so a lost event never hangs it.
   */
  wait(opts?: WaitOptions): Promise<Job>;
}
/** What `renders.create()` returns: await it for the handle, or chain `.wait()` directly. */
export declare class PendingJob implements PromiseLike<JobHandle> {
  private readonly handle;
  constructor(handle: Promise<JobHandle>);
  then<A = JobHandle, B = never>(
    onFulfilled?: ((value: JobHandle) => A | PromiseLike<A>) | null,
    onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): Promise<A | B>;
  /** `await rm.renders.create(spec).wait()` */
  wait(opts?: WaitOptions): Promise<Job>;
}
