import { z } from 'zod';
import type { JobKind } from '../jobs/job-contract.ts';

/**
 * The api↔workers contract for BullMQ. Queue payloads carry ids only: Postgres holds the job,
 * so the reconciler can rebuild any queue entry from a row, and a payload from older code
 * still parses.
 */
export const QUEUES = {
  /** render.run */
  render: 'render',
  /**
   * render.segment: one scene's segment of a fanned-out render, a child of its render.run (BullMQ
   * flow). Not fair-shared: a segment is its job's own work, already admitted with the job.
   */
  segments: 'segments',
  /** tts.run, image.run — short media jobs, kept apart so renders cannot starve them */
  media: 'media',
  /** callback.deliver, support.deliver: outbound deliveries to other people's servers */
  callbacks: 'callbacks',
  /** account.export, account.delete */
  account: 'account',
  /** publish.youtube — uploads to third parties, slow and rate-limited by them */
  publish: 'publish',
  /** jobs.reconcile, outputs.sweep, usage.report, usage.alert, reservations.sweep: scheduled work */
  maintenance: 'maintenance',
} as const;
export type QueueName = (typeof QUEUES)[keyof typeof QUEUES];
export const ALL_QUEUES: QueueName[] = Object.values(QUEUES);

export const JOB_NAMES = {
  render: 'render.run',
  renderSegment: 'render.segment',
  tts: 'tts.run',
  image: 'image.run',
  export: 'account.export',
  deletion: 'account.delete',
  publishYoutube: 'publish.youtube',
  callback: 'callback.deliver',
  supportDeliver: 'support.deliver',
  reconcile: 'jobs.reconcile',
  sweepOutputs: 'outputs.sweep',
  usageReport: 'usage.report',
  usageAlert: 'usage.alert',
  reservationsSweep: 'reservations.sweep',
} as const;

export type { JobKind };

/** Where each job kind is queued and under which BullMQ job name. */
export const KIND_ROUTING: Record<JobKind, { queue: QueueName; name: string }> = {
  render: { queue: QUEUES.render, name: JOB_NAMES.render },
  tts: { queue: QUEUES.media, name: JOB_NAMES.tts },
  image: { queue: QUEUES.media, name: JOB_NAMES.image },
  export: { queue: QUEUES.account, name: JOB_NAMES.export },
  deletion: { queue: QUEUES.account, name: JOB_NAMES.deletion },
  publish: { queue: QUEUES.publish, name: JOB_NAMES.publishYoutube },
};

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

/**
 * Redis key prefix of BullMQ under a deployment prefix (`rm` → `rm:{bull}:render:…`). The braces
 * are a Redis Cluster hash tag: BullMQ's scripts touch several keys of a queue at once (and a
 * flow's parent and children may sit in different queues), so all queue keys share one slot.
 */
export function bullPrefix(redisPrefix: string): string {
  return `${redisPrefix}:{bull}`;
}
