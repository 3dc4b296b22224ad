import { type Job, UnrecoverableError } from 'bullmq';
import type { Config } from '../shared/config/config.ts';
import { createJobRepository } from '../shared/jobs/job-repository.ts';
import {
  isJobName,
  JOBS,
  type JobName,
  type PayloadOf,
  type QueueName,
  type RetryPolicy,
  type TenantJobPayload,
} from '../shared/queue/queues.ts';
import type { SafeParser } from '../shared/validation/parse.ts';
import { type JobDefinition, runTenantJob } from './jobs/job-runner.ts';
import type { WorkerServices } from './jobs/services.ts';
import type { Tool } from './preflight/tools.ts';
import { deletionJob } from './tasks/account/deletion-task.ts';
import { exportJob } from './tasks/account/export-task.ts';
import { deliverCallback } from './tasks/callbacks/callback-task.ts';
import { imageJob } from './tasks/image/image-task.ts';
import { reconcileJobs } from './tasks/maintenance/reconcile-task.ts';
import { sweepExpiredOutputs } from './tasks/maintenance/sweep-outputs-task.ts';
import { publishYoutubeJob } from './tasks/publish/publish-youtube-task.ts';
import { renderJob } from './tasks/render/render-task.ts';
import { runSegment } from './tasks/render/segment-task.ts';
import { deliverSupportTicket } from './tasks/support/support-deliver-task.ts';
import { ttsJob } from './tasks/tts/tts-task.ts';
import { sweepReservations } from './tasks/usage/reservations-sweep-task.ts';
import { announceUsageAlert } from './tasks/usage/usage-alert-event.ts';
import { runUsageAlerts } from './tasks/usage/usage-alert-task.ts';
import { runUsageReport } from './tasks/usage/usage-report-task.ts';

/** One entry of the catalog: a job name of the shared catalog with its worker-side handler. */
export interface TaskEntry {
  name: JobName;
  queue: QueueName;
  /** Attempts and backoff (also set on the job by the producer, from the same table) */
  policy: RetryPolicy;
  /** Programs and fonts the handler runs on, checked when a worker of `queue` starts (none: pure Node). */
  tools: readonly Tool[];
  /**
   * Parses the queued data with the job name's payload schema (queued data may come from older
   * code: invalid → `UnrecoverableError`, never retried), then runs the handler on the typed payload.
   */
  run(services: WorkerServices, job: Job, data: unknown, token?: string): Promise<unknown>;
}

/** What a worker attaches to a job name; its payload type is the catalog's schema's. */
interface Handler<N extends JobName> {
  tools?: readonly Tool[];
  /** Scheduled job: added every so often by BullMQ's job scheduler (upserted by every worker). */
  everyMs?: (config: Config) => number;
  // A property, not a method, so that a handler of another payload type does not type-check here.
  handle: (services: WorkerServices, job: Job, data: PayloadOf<N>, token?: string) => Promise<unknown>;
}

/** Every job name of the catalog, and only those, has a handler. */
type Handlers = { [N in JobName]: Handler<N> };

// The same table seen through the payload types, so a handler's schema is looked up by its name.
const payloads: { [N in JobName]: { payload: SafeParser<PayloadOf<N>> } } = JOBS;

function tenantTask<P>(def: JobDefinition<P>, tools: readonly Tool[] = []) {
  return {
    tools,
    handle: (services: WorkerServices, job: Job, data: TenantJobPayload, token?: string) =>
      runTenantJob(services, createJobRepository(), def, job, data, token),
  };
}

const HANDLERS: Handlers = {
  // Narration (espeak-ng, ffprobe when a WAV header cannot be trusted), title cards (DejaVu through
  // librsvg), H.264/AAC segments and the join (ffmpeg).
  'render.run': tenantTask(renderJob, ['ffmpeg', 'ffprobe', 'espeak-ng', 'dejavu-fonts']),
  // One scene's segment of a fanned-out render: its GOP and audio chunk (ffmpeg). Its card and
  // narration were made by the render's earlier steps, so no espeak-ng or fonts here.
  'render.segment': {
    tools: ['ffmpeg'],
    handle: (services, _job, data) => runSegment(services, createJobRepository(), data),
  },
  // Speech, and its MP3 conversion (ffmpeg).
  'tts.run': tenantTask(ttsJob, ['ffmpeg', 'ffprobe', 'espeak-ng']),
  // A title card or a fitted image (sharp; text in DejaVu Sans).
  'image.run': tenantTask(imageJob, ['dejavu-fonts']),
  'account.export': tenantTask(exportJob),
  'account.delete': tenantTask(deletionJob),
  'publish.youtube': tenantTask(publishYoutubeJob),
  'callback.deliver': { handle: (services, job, data) => deliverCallback(services, job, data) },
  'support.deliver': {
    handle: (services, job, data, token) => deliverSupportTicket(services, job, data, token),
  },
  'jobs.reconcile': {
    everyMs: (config) => config.RECONCILE_INTERVAL_SECONDS * 1000,
    handle: (services) => reconcileJobs(services),
  },
  'outputs.sweep': { everyMs: () => 3_600_000, handle: (services) => sweepExpiredOutputs(services) },
  'usage.report': {
    everyMs: () => 60_000,
    handle: (services) =>
      services.plans
        ? runUsageReport({
            db: services.db,
            stripe: services.stripe ?? null,
            plans: services.plans,
            logger: services.logger,
            metrics: services.metrics,
          })
        : Promise.resolve(null),
  },
  'usage.alert': {
    everyMs: () => 60_000,
    handle: (services) =>
      services.plans
        ? runUsageAlerts({
            db: services.db,
            plans: services.plans,
            mailer: services.mailer,
            logger: services.logger,
            publicUrl: services.config.PUBLIC_URL,
            onAlert: (alert) => announceUsageAlert(services, alert),
          })
        : Promise.resolve(null),
  },
  'reservations.sweep': {
    everyMs: () => 60_000,
    // Metering off (no plan catalogue): no job is reserved, so there is nothing to sweep.
    handle: (services) => (services.plans ? sweepReservations(services) : Promise.resolve(null)),
  },
};

const NAMES = Object.keys(HANDLERS).filter(isJobName);

function entry<N extends JobName>(name: N): TaskEntry {
  const handler: Handler<N> = HANDLERS[name];
  const schema = payloads[name].payload;
  return {
    name,
    queue: JOBS[name].queue,
    policy: JOBS[name].policy,
    tools: handler.tools ?? [],
    run: (services, job, data, token) => {
      const parsed = schema.safeParse(data);
      if (!parsed.success) throw new UnrecoverableError(`invalid payload for ${job.name}`);
      return handler.handle(services, job, parsed.data, token);
    },
  };
}

/**
 * The task catalog: job name → queue, payload schema and retry policy (the shared catalog,
 * `shared/queue/queues.ts`) with the handler attached here. Step deadlines live with each job
 * definition's steps (`workers/tasks/<area>/`).
 */
export function createCatalog(): Map<string, TaskEntry> {
  return new Map(NAMES.map((name) => [name, entry(name)]));
}

/** Scheduled maintenance: job name → interval. Upserted by every worker; BullMQ keeps one schedule. */
export function schedules(config: Config): Array<{ name: JobName; everyMs: number }> {
  return NAMES.flatMap((name) => {
    const every = HANDLERS[name].everyMs;
    return every ? [{ name, everyMs: every(config) }] : [];
  });
}
