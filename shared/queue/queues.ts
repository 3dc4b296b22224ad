import { z } from 'zod';
import type { JobKind } from '../jobs/job-contract.ts';

/** What the catalog says about one queue. */
export interface QueueSpec {
  /**
   * Whether its jobs are dispatched fairly between tenants (fair-share.ts): submitted onto their
   * tenant's waiting list, and moved into BullMQ by each worker's dispatcher in deficit
   * round-robin order, instead of added to BullMQ at once. When FAIR_SHARE is off, no queue is.
   */
  fairShare: boolean;
}

/**
 * The api↔workers contract for BullMQ, declared once: this queue catalog (queue name → how its
 * jobs are dispatched), and the job catalog below (each job name's queue, payload schema and retry
 * policy); the other lists are derived from the two. Queue payloads carry ids only: Postgres holds
 * the job, so the reconciler can rebuild any queue entry from a row, and a payload from older code
 * still parses. The workers attach a handler to every name of the catalog (`workers/registry.ts`).
 */
export const QUEUE_SPECS = {
  /** render.run */
  render: { fairShare: true },
  /**
   * render.segment: one scene's segment of a fanned-out render, a child of its render.run (BullMQ
   * flow). Not fair-shared: a segment is its job's own work, already admitted with the job.
   */
  segments: { fairShare: false },
  /** tts.run, image.run — short media jobs, kept apart so renders cannot starve them */
  media: { fairShare: true },
  /** callback.deliver, support.deliver: outbound deliveries to other people's servers */
  callbacks: { fairShare: false },
  /** account.export, account.delete */
  account: { fairShare: false },
  /** publish.youtube — uploads to third parties, slow and rate-limited by them */
  publish: { fairShare: false },
  /** jobs.reconcile, outputs.sweep, usage.report, usage.alert, reservations.sweep: scheduled work */
  maintenance: { fairShare: false },
} as const satisfies Record<string, QueueSpec>;
export type QueueName = keyof typeof QUEUE_SPECS;
export const ALL_QUEUES = Object.keys(QUEUE_SPECS) as QueueName[];
/** Each queue's name, so code writes `QUEUES.render` rather than a string. */
export const QUEUES = Object.fromEntries(ALL_QUEUES.map((q) => [q, q])) as { readonly [Q in QueueName]: Q };
/** Queues whose jobs are dispatched fairly between tenants: the catalog's `fairShare` ones. */
export const FAIR_QUEUES: readonly QueueName[] = ALL_QUEUES.filter((q) => QUEUE_SPECS[q].fairShare);

/** Queue names arrive as strings (WORKER_QUEUES). */
export function isQueueName(name: string): name is QueueName {
  return ALL_QUEUES.some((q) => q === name);
}

export type { JobKind };

/** Payload of every tenant job (render/tts/image/export/deletion/publish): ids only. */
export const tenantJobPayload = z.object({ jobId: z.string().min(1), tenantId: z.string().min(1) });
export type TenantJobPayload = z.infer<typeof tenantJobPayload>;

/** Payload of render.segment: the render and the scene (0-based) whose segment it encodes. */
export const segmentPayload = tenantJobPayload.extend({ index: z.number().int().min(0) });
export type SegmentPayload = z.infer<typeof segmentPayload>;

export const callbackPayload = z.object({ deliveryId: z.string().min(1), tenantId: z.string().min(1) });
export type CallbackPayload = z.infer<typeof callbackPayload>;

export const supportPayload = z.object({ ticketId: z.string().min(1), tenantId: z.string().min(1) });
export type SupportPayload = z.infer<typeof supportPayload>;

/** Scheduled maintenance is added with `{}`; nothing in it is read. */
const scheduledPayload = tenantJobPayload.partial();

export interface RetryPolicy {
  /** Total tries including the first. */
  attempts: number;
  /** Exponential backoff base: waits delay, 2×delay, 4×delay… between tries. */
  backoffMs: number;
}

/** What the catalog says about one job name. */
export interface JobSpec {
  queue: QueueName;
  /** Parses the queued data (it may come from older code) before the handler sees it. */
  payload: z.ZodTypeAny;
  /**
   * Attempts and backoff. They live in the shared contract because BullMQ reads them from the
   * job's options, which the producer (the API, or the reconciler) sets when adding it.
   */
  policy: RetryPolicy;
}

/** Total tries (the first included) and the exponential backoff's base delay. */
function retry(attempts: number, backoffMs: number): RetryPolicy {
  return { attempts, backoffMs };
}

/** The job catalog: job name (`area.action`) → queue, payload schema and retry policy. */
export const JOBS = {
  'render.run': { queue: QUEUES.render, payload: tenantJobPayload, policy: retry(3, 2_000) },
  // A failed segment is encoded by its parent when it resumes, so few tries are enough here.
  'render.segment': { queue: QUEUES.segments, payload: segmentPayload, policy: retry(2, 1_000) },
  'tts.run': { queue: QUEUES.media, payload: tenantJobPayload, policy: retry(3, 1_000) },
  'image.run': { queue: QUEUES.media, payload: tenantJobPayload, policy: retry(3, 1_000) },
  'account.export': { queue: QUEUES.account, payload: tenantJobPayload, policy: retry(5, 5_000) },
  'account.delete': { queue: QUEUES.account, payload: tenantJobPayload, policy: retry(10, 10_000) },
  // Each attempt resumes the same upload session; retries inside the step cover short outages,
  // these cover a worker crash or a longer YouTube outage (~20 minutes in all).
  'publish.youtube': { queue: QUEUES.publish, payload: tenantJobPayload, policy: retry(6, 20_000) },
  // A client endpoint may be down for a while: 8 tries over ~40 minutes.
  'callback.deliver': { queue: QUEUES.callbacks, payload: callbackPayload, policy: retry(8, 10_000) },
  // A helpdesk outage should not lose a ticket: 8 tries over ~20 minutes (Retry-After can stretch it).
  'support.deliver': { queue: QUEUES.callbacks, payload: supportPayload, policy: retry(8, 5_000) },
  'jobs.reconcile': { queue: QUEUES.maintenance, payload: scheduledPayload, policy: retry(1, 1_000) },
  'outputs.sweep': { queue: QUEUES.maintenance, payload: scheduledPayload, policy: retry(1, 1_000) },
  'usage.report': { queue: QUEUES.maintenance, payload: scheduledPayload, policy: retry(1, 1_000) },
  'usage.alert': { queue: QUEUES.maintenance, payload: scheduledPayload, policy: retry(1, 1_000) },
  'reservations.sweep': { queue: QUEUES.maintenance, payload: scheduledPayload, policy: retry(1, 1_000) },
} satisfies Record<`${string}.${string}`, JobSpec>;

export type JobName = keyof typeof JOBS;

/** The payload a job name's handler receives, as its schema parses it. */
export type PayloadOf<N extends JobName> = z.output<(typeof JOBS)[N]['payload']>;

/** Job names arrive as strings (BullMQ, the fair-share lists in Redis). */
export function isJobName(name: string): name is JobName {
  return Object.hasOwn(JOBS, name);
}

export function policyFor(name: string): RetryPolicy {
  if (!isJobName(name)) throw new Error(`no retry policy for job ${name}`);
  return JOBS[name].policy;
}

function route<N extends JobName>(name: N): { queue: (typeof JOBS)[N]['queue']; name: N } {
  return { queue: JOBS[name].queue, name };
}

/** Which job name runs each tenant job kind (its queue is the catalog's). */
export const KIND_ROUTING: Record<JobKind, { queue: QueueName; name: JobName }> = {
  render: route('render.run'),
  tts: route('tts.run'),
  image: route('image.run'),
  export: route('account.export'),
  deletion: route('account.delete'),
  publish: route('publish.youtube'),
};

/**
 * Redis key prefix of BullMQ under a deployment prefix (`rm` → `rm:{bull}:render:…`). The braces
 * are a Redis Cluster hash tag: BullMQ's scripts touch several keys of a queue at once (and a
 * flow's parent and children may sit in different queues), so all queue keys share one slot.
 */
export function bullPrefix(redisPrefix: string): string {
  return `${redisPrefix}:{bull}`;
}
