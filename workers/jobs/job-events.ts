import type { EventType } from '../../shared/events/event-types.ts';
import { jobEventData } from '../../shared/jobs/callback-event.ts';
import type { JobRow } from '../../shared/jobs/job-contract.ts';
import { announceJobEvent } from '../../shared/webhooks/announce-job-event.ts';
import type { WorkerServices } from './services.ts';

/**
 * The stream events of one running attempt: `job.started`, `job.step.started`,
 * `job.step.succeeded` and `job.progress` — the last at most once per
 * EVENTS_PROGRESS_INTERVAL_MS, and only when progress moved. Each is announced after the write
 * that made it true — and delivered to the tenant's default endpoint when it asks for the type
 * (`announceJobEvent`), one at a time in the order they happened; the final events come from
 * finalizeJob.
 */
export function createJobEvents(
  services: Pick<WorkerServices, 'events' | 'config' | 'db' | 'producer' | 'logger'>,
  job: JobRow,
) {
  const { config } = services;
  // One at a time, in call order: an announcement reads the default endpoint from Postgres before
  // its XADD, so two in flight at once (a progress report while a step finishes) could reach the
  // stream in the other order, and a client would see progress go backwards.
  let queue: Promise<void> = Promise.resolve();
  const emit = (type: EventType, data: Record<string, unknown>) => {
    const sent = queue.then(() => announceJobEvent(services, job, type, data));
    queue = sent.catch(() => undefined);
    return sent;
  };
  let progress = job.progress;
  let lastProgressAt = 0;
  let lastProgress = job.progress;
  const data = (extra: Record<string, unknown> = {}) => ({
    job: jobEventData(config.PUBLIC_URL, { ...job, status: 'running', progress }),
    ...extra,
  });
  return {
    started: async (attempt: number) => {
      await emit('job.started', { ...data(), attempt });
    },
    stepStarted: async (step: string, attempt: number) => {
      await emit('job.step.started', data({ step: { name: step, attempt } }));
    },
    stepSucceeded: async (step: string, attempt: number, cacheHit: boolean, value: number) => {
      progress = Math.max(progress, value);
      await emit('job.step.succeeded', data({ step: { name: step, attempt, cache_hit: cacheHit } }));
    },
    progress: async (value: number, step: string) => {
      progress = Math.max(progress, value);
      const now = Date.now();
      if (progress <= lastProgress || now - lastProgressAt < config.EVENTS_PROGRESS_INTERVAL_MS) return;
      lastProgressAt = now;
      lastProgress = progress;
      await emit('job.progress', data({ step: { name: step } }));
    },
  };
}
