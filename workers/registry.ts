import { type Job, UnrecoverableError } from 'bullmq';
import type { z } from 'zod';
import type { Config } from '../shared/config/config.ts';
import { createJobRepository } from '../shared/jobs/job-repository.ts';
import { policyFor, type RetryPolicy } from '../shared/queue/job-policies.ts';
import {
  callbackPayload,
  JOB_NAMES,
  QUEUES,
  type QueueName,
  segmentPayload,
  supportPayload,
  tenantJobPayload,
} from '../shared/queue/queues.ts';
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

/** One entry of the catalog: everything about a job name in one place. */
export interface TaskEntry {
  name: string;
  queue: QueueName;
  /** Attempts and backoff (also set on the job by the producer, from the same table) */
  policy: RetryPolicy;
  /** Programs and fonts the handler runs on, checked when a worker of `queue` starts (none: pure Node). */
  tools: readonly Tool[];
  /**
   * Parses the queued data with the task's payload schema (queued data may come from older code:
   * invalid → `UnrecoverableError`, never retried), then runs the handler on the typed payload.
   */
  run(services: WorkerServices, job: Job, data: unknown, token?: string): Promise<unknown>;
}

/** A task as declared below: the handler's payload type is inferred from the schema. */
interface TaskSpec<P extends z.ZodTypeAny> {
  name: string;
  queue: QueueName;
  tools?: readonly Tool[];
  payload: P;
  handler(services: WorkerServices, job: Job, data: z.output<P>, token?: string): Promise<unknown>;
}

function defineTask<P extends z.ZodTypeAny>(spec: TaskSpec<P>): TaskEntry {
  return {
    name: spec.name,
    queue: spec.queue,
    tools: spec.tools ?? [],
    policy: policyFor(spec.name),
    run: (services, job, data, token) => {
      const parsed = spec.payload.safeParse(data);
      if (!parsed.success) throw new UnrecoverableError(`invalid payload for ${job.name}`);
      return spec.handler(services, job, parsed.data, token);
    },
  };
}

const empty = tenantJobPayload.partial();

function tenantTask<P>(
  name: string,
  queue: QueueName,
  def: JobDefinition<P>,
  tools: readonly Tool[] = [],
): TaskEntry {
  return defineTask({
    name,
    queue,
    tools,
    payload: tenantJobPayload,
    handler: (services, job, data, token) =>
      runTenantJob(services, createJobRepository(), def, job, data, token),
  });
}

/**
 * The task catalog: job name → queue, payload schema, retry policy and handler. Step
 * deadlines live with each job definition's steps (`workers/tasks/<area>/`).
 */
export function createCatalog(extra: TaskEntry[] = []): Map<string, TaskEntry> {
  const entries: TaskEntry[] = [
    // Narration (espeak-ng, ffprobe when a WAV header cannot be trusted), title cards (DejaVu through
    // librsvg), H.264/AAC segments and the join (ffmpeg).
    tenantTask(JOB_NAMES.render, QUEUES.render, renderJob, [
      'ffmpeg',
      'ffprobe',
      'espeak-ng',
      'dejavu-fonts',
    ]),
    // One scene's segment of a fanned-out render: its GOP and audio chunk (ffmpeg). Its card and
    // narration were made by the render's earlier steps, so no espeak-ng or fonts here.
    defineTask({
      name: JOB_NAMES.renderSegment,
      queue: QUEUES.segments,
      tools: ['ffmpeg'],
      payload: segmentPayload,
      handler: (services, _job, data) => runSegment(services, createJobRepository(), data),
    }),
    // Speech, and its MP3 conversion (ffmpeg).
    tenantTask(JOB_NAMES.tts, QUEUES.media, ttsJob, ['ffmpeg', 'ffprobe', 'espeak-ng']),
    // A title card or a fitted image (sharp; text in DejaVu Sans).
    tenantTask(JOB_NAMES.image, QUEUES.media, imageJob, ['dejavu-fonts']),
    tenantTask(JOB_NAMES.export, QUEUES.account, exportJob),
    tenantTask(JOB_NAMES.deletion, QUEUES.account, deletionJob),
    tenantTask(JOB_NAMES.publishYoutube, QUEUES.publish, publishYoutubeJob),
    defineTask({
      name: JOB_NAMES.callback,
      queue: QUEUES.callbacks,
      payload: callbackPayload,
      handler: (services, job, data) => deliverCallback(services, job, data),
    }),
    defineTask({
      name: JOB_NAMES.supportDeliver,
      queue: QUEUES.callbacks,
      payload: supportPayload,
      handler: (services, job, data, token) => deliverSupportTicket(services, job, data, token),
    }),
    defineTask({
      name: JOB_NAMES.reconcile,
      queue: QUEUES.maintenance,
      payload: empty,
      handler: (services) => reconcileJobs(services),
    }),
    defineTask({
      name: JOB_NAMES.sweepOutputs,
      queue: QUEUES.maintenance,
      payload: empty,
      handler: (services) => sweepExpiredOutputs(services),
    }),
    defineTask({
      name: JOB_NAMES.usageReport,
      queue: QUEUES.maintenance,
      payload: empty,
      handler: (services) =>
        services.plans
          ? runUsageReport({
              db: services.db,
              stripe: services.stripe ?? null,
              plans: services.plans,
              logger: services.logger,
              metrics: services.metrics,
            })
          : Promise.resolve(null),
    }),
    defineTask({
      name: JOB_NAMES.usageAlert,
      queue: QUEUES.maintenance,
      payload: empty,
      handler: (services) =>
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
    }),
    defineTask({
      name: JOB_NAMES.reservationsSweep,
      queue: QUEUES.maintenance,
      payload: empty,
      // Metering off (no plan catalogue): no job is reserved, so there is nothing to sweep.
      handler: (services) => (services.plans ? sweepReservations(services) : Promise.resolve(null)),
    }),
    ...extra,
  ];
  return new Map(entries.map((e) => [e.name, e]));
}

/** Scheduled maintenance: job name → interval. Upserted by every worker; BullMQ keeps one schedule. */
export function schedules(config: Config): Array<{ name: string; everyMs: number }> {
  return [
    { name: JOB_NAMES.reconcile, everyMs: config.RECONCILE_INTERVAL_SECONDS * 1000 },
    { name: JOB_NAMES.sweepOutputs, everyMs: 3_600_000 },
    { name: JOB_NAMES.usageReport, everyMs: 60_000 },
    { name: JOB_NAMES.usageAlert, everyMs: 60_000 },
    { name: JOB_NAMES.reservationsSweep, everyMs: 60_000 },
  ];
}
