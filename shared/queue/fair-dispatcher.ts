import type { Logger } from '../logging/logger.ts';
import type { Producer } from './producer.ts';
import { FAIR_QUEUES, type QueueName } from './queues.ts';

/** How often a dispatcher tops the queues up even when no local job event asked it to. */
const TICK_MS = 100;

export interface FairDispatcher {
  /** Ask for a top-up now (after a local worker took or finished a job). */
  kick(): void;
  stop(): Promise<void>;
}

/**
 * Moves fair-share jobs from the tenants' waiting lists into BullMQ, keeping `prefetch` jobs
 * waiting in each fair queue this worker consumes. Runs in every worker process; the lock in
 * `FairShare.dispatch` keeps them from overshooting together.
 */
export function startFairDispatcher(opts: {
  producer: Producer;
  queues: QueueName[];
  prefetch: number;
  logger: Logger;
}): FairDispatcher {
  const fair = opts.producer.fair;
  const queues = opts.queues.filter((q) => FAIR_QUEUES.includes(q));
  if (!fair || queues.length === 0) return { kick: () => undefined, stop: async () => undefined };
  let running: Promise<void> | null = null;
  let again = false;
  let stopped = false;
  const pass = async () => {
    for (const name of queues) {
      const moved = await fair
        .dispatch(opts.producer.queue(name), opts.prefetch, opts.producer.addPicked)
        .catch((err: unknown) => {
          opts.logger.warn({ err, queue: name }, 'fair-share dispatch failed; retrying');
          return 0;
        });
      if (moved > 0) again = true;
    }
  };
  const kick = () => {
    if (stopped) return;
    if (running) {
      again = true;
      return;
    }
    running = (async () => {
      do {
        again = false;
        await pass();
      } while (again && !stopped);
    })().finally(() => {
      running = null;
    });
  };
  const timer = setInterval(kick, TICK_MS);
  timer.unref();
  kick();
  return {
    kick,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
