import type { WorkerOptions } from 'bullmq';
import { backoffDelay } from '../shared/async/backoff.ts';
import type { TaskEntry } from './registry.ts';

/**
 * BullMQ worker settings, chosen deliberately:
 * - lockDuration 4 s (renewed every 2 s) + stalledInterval 3 s: a job held by a SIGKILLed
 *   worker loses its lock within 4 s; BullMQ's stall check marks it on one pass and moves it back
 *   to wait on the next, so another worker has it within ~10 s (lock + two intervals). ffmpeg
 *   runs in a child process, so the event loop stays free to renew locks during long encodes.
 * - maxStalledCount 2: a crash (or two) does not fail a job permanently; past that BullMQ
 *   fails it and the reconciler decides (re-add up to a cap, then fail visibly).
 * - backoff type 'policy': exponential from the catalog, ±20 % jitter so retries of many jobs
 *   don't arrive together, scaled by JOB_BACKOFF_SCALE.
 */
export function workerOptions(opts: {
  concurrency: number;
  backoffScale: number;
  catalog: Map<string, TaskEntry>;
}): Omit<WorkerOptions, 'connection' | 'prefix'> {
  return {
    concurrency: opts.concurrency,
    lockDuration: 4_000,
    stalledInterval: 3_000,
    maxStalledCount: 2,
    settings: {
      backoffStrategy: (attemptsMade, _type, _err, job) => {
        const base = (job && opts.catalog.get(job.name)?.policy.backoffMs) ?? 1_000;
        return Math.round(backoffDelay({ baseMs: base * opts.backoffScale, attempt: attemptsMade }));
      },
    },
  };
}
