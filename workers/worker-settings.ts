import type { WorkerOptions } from 'bullmq';
import type { TaskEntry } from './registry.ts';

/**
 * BullMQ worker settings, chosen deliberately:
 * - lockDuration 5 s (renewed every 2.5 s) + stalledInterval 5 s: a job held by a SIGKILLed
 *   worker is seen as stalled and handed to another worker within ~10 s. ffmpeg runs in a child
 *   process, so the event loop stays free to renew locks during long encodes.
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
    lockDuration: 5_000,
    stalledInterval: 5_000,
    maxStalledCount: 2,
    settings: {
      backoffStrategy: (attemptsMade, _type, _err, job) => {
        const base = (job && opts.catalog.get(job.name)?.policy.backoffMs) ?? 1_000;
        const delay = base * 2 ** Math.max(0, attemptsMade - 1) * opts.backoffScale;
        return Math.round(delay * (0.8 + Math.random() * 0.4));
      },
    },
  };
}
