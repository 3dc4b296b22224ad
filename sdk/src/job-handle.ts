import { JobCanceledError, JobFailedError, WaitTimeoutError } from './errors.ts';
import { streamEvents } from './events.ts';
import type { Http } from './http.ts';
import type { Job, JobLifecycleEvent, JobStepEvent, RendermillEvent, StreamedEvent } from './types.ts';

export interface WaitOptions {
  /** Called with each progress change (0..1) and the event or poll that brought it. */
  onProgress?: (progress: number, info: { step?: string; event?: StreamedEvent; job?: Job }) => void;
  signal?: AbortSignal;
  /** Give up waiting (the job goes on) after this long. Default: no limit. */
  timeoutMs?: number;
  /** Polling interval while the event stream is unavailable, and as a safety net. Default 2000 ms. */
  pollIntervalMs?: number;
}

const FINAL = new Set(['succeeded', 'failed', 'canceled']);

/** A submitted job. `wait()` resolves with the succeeded job, or throws JobFailedError / JobCanceledError. */
export class JobHandle {
  constructor(
    private readonly http: Http,
    /** The job as the submit answered it. */
    readonly job: Job,
    /** Whether an earlier request with the same Idempotency-Key made this job. */
    readonly replayed: boolean,
  ) {}

  get id(): string {
    return this.job.id;
  }

  /**
   * Waits for the job to end, following `GET /v1/events?job_id=` and polling `GET /v1/jobs/:id`
   * alongside (and alone when the stream is unavailable), so a lost event never hangs it.
   */
  async wait(opts: WaitOptions = {}): Promise<Job> {
    const stop = new AbortController();
    const signals = [stop.signal];
    if (opts.signal) signals.push(opts.signal);
    if (opts.timeoutMs !== undefined) signals.push(AbortSignal.timeout(opts.timeoutMs));
    const signal = AbortSignal.any(signals);
    let progress = -1;
    const report = (p: number, info: Parameters<NonNullable<WaitOptions['onProgress']>>[1]) => {
      if (p > progress) {
        progress = p;
        opts.onProgress?.(p, info);
      }
    };
    const get = () => this.http.json<Job>('GET', `/v1/jobs/${encodeURIComponent(this.id)}`, { signal });
    let finalJob: Job | null = null;
    const done = new Promise<Job>((resolve) => {
      const settle = (j: Job) => {
        if (!finalJob) {
          finalJob = j;
          resolve(j);
        }
      };
      // Event stream: resolves on the final event (then reads the job once).
      const followStream = async () => {
        try {
          for await (const e of streamEvents(this.http, { jobId: this.id, signal })) {
            // Only job events say anything about this job (the stream is filtered by job_id anyway).
            if (!isJobEvent(e)) continue;
            const step = 'step' in e.data ? e.data.step.name : undefined;
            report(e.data.job.progress, { step, event: e });
            if (FINAL.has(e.data.job.status)) {
              settle(await get());
              return;
            }
          }
        } catch {
          // the poller carries on
        }
      };
      // Poller: catches a job that ended before the stream connected, or while it was down.
      const poll = async () => {
        const every = opts.pollIntervalMs ?? 2_000;
        while (!finalJob && !signal.aborted) {
          try {
            const j = await get();
            report(j.progress, { job: j });
            if (FINAL.has(j.status)) return settle(j);
          } catch (err) {
            if (signal.aborted) return;
            if ((err as { status?: number }).status === 404) throw err;
          }
          await new Promise((r) => setTimeout(r, every));
        }
      };
      void followStream();
      void poll().catch(() => undefined);
    });
    const aborted = new Promise<never>((_, reject) => {
      const fail = () => {
        if (opts.signal?.aborted) reject(opts.signal.reason);
        else reject(new WaitTimeoutError(this.id));
      };
      if (signal.aborted) fail();
      signal.addEventListener('abort', () => !finalJob && fail(), { once: true });
    });
    try {
      const job = await Promise.race([done, aborted]);
      if (job.status === 'failed') throw new JobFailedError(job);
      if (job.status === 'canceled') throw new JobCanceledError(job);
      return job;
    } finally {
      stop.abort();
    }
  }
}

/** What `renders.create()` returns: await it for the handle, or chain `.wait()` directly. */
export class PendingJob implements PromiseLike<JobHandle> {
  constructor(private readonly handle: Promise<JobHandle>) {}
  // biome-ignore lint/suspicious/noThenProperty: deliberately thenable, so `await create()` gives the handle
  then<A = JobHandle, B = never>(
    onFulfilled?: ((value: JobHandle) => A | PromiseLike<A>) | null,
    onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): Promise<A | B> {
    return this.handle.then(onFulfilled, onRejected);
  }
  catch<B = never>(onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null): Promise<JobHandle | B> {
    return this.handle.catch(onRejected);
  }
  /** `await rm.renders.create(spec).wait()` */
  wait(opts?: WaitOptions): Promise<Job> {
    return this.handle.then((h) => h.wait(opts));
  }
}

function isJobEvent(e: RendermillEvent): e is JobLifecycleEvent | JobStepEvent {
  return e.type.startsWith('job.');
}
