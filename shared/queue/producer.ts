import { type JobsOptions, Queue } from 'bullmq';
import type { RedisClient } from '../redis/redis.ts';
import { createFairShare, type FairEntry, type FairShare, weightOfPriority } from './fair-share.ts';
import {
  bullPrefix,
  type CallbackPayload,
  FAIR_QUEUES,
  JOBS,
  type JobKind,
  KIND_ROUTING,
  policyFor,
  type QueueName,
  type SupportPayload,
  type TenantJobPayload,
} from './queues.ts';

/** BullMQ producers for every queue, sharing one connection. */
export interface Producer {
  queue(name: QueueName): Queue;
  /**
   * Adds a tenant job with jobId = our job id, so adding it twice (API + reconciler) is a no-op.
   * With fair share on, render/tts/image jobs go to their tenant's waiting list instead, and a
   * worker's dispatcher moves them into BullMQ in fair order.
   */
  enqueueJob(job: { id: string; tenant_id: string; kind: JobKind; priority?: number }): Promise<void>;
  /** The fair-share layer, when on. */
  fair: FairShare | null;
  /** Adds a job picked by the fair-share layer to BullMQ. */
  addPicked(queue: Queue, entry: FairEntry): Promise<void>;
  enqueueCallback(payload: CallbackPayload): Promise<void>;
  /** Adds support.deliver with jobId = the ticket id: the API and the reconciler can both add it. */
  enqueueSupport(payload: SupportPayload): Promise<void>;
  close(): Promise<void>;
}

/**
 * Finished jobs are trimmed (Postgres keeps the history): the last 1000 completed for an hour
 * and failed ones for a week, so RedisClient memory stays bounded under noeviction.
 */
export function baseJobOptions(name: string): JobsOptions {
  const p = policyFor(name);
  return {
    attempts: p.attempts,
    // 'policy' is computed by the worker's backoffStrategy from the catalog (exponential with
    // jitter, scaled by JOB_BACKOFF_SCALE), so the delay lives with the handler, not the producer.
    backoff: { type: 'policy', delay: p.backoffMs },
    removeOnComplete: { age: 3600, count: 1000 },
    removeOnFail: { age: 7 * 24 * 3600, count: 5000 },
  };
}

export function createProducer(
  connection: RedisClient,
  redisPrefix: string,
  opts: { fairShare?: boolean } = {},
): Producer {
  const fair = opts.fairShare ? createFairShare(connection, redisPrefix) : null;
  const queues = new Map<QueueName, Queue>();
  const queue = (name: QueueName) => {
    let q = queues.get(name);
    if (!q) {
      q = new Queue(name, { connection, prefix: bullPrefix(redisPrefix) });
      queues.set(name, q);
    }
    return q;
  };
  const add = async (q: Queue, e: FairEntry) => {
    const data: TenantJobPayload = { jobId: e.jobId, tenantId: e.tenantId };
    await q.add(e.name, data, {
      ...baseJobOptions(e.name),
      jobId: e.jobId,
      // BullMQ: 0 = no priority (fastest path); 1 is the highest priority, larger is lower.
      ...(e.priority ? { priority: e.priority } : {}),
    });
  };
  return {
    queue,
    fair,
    addPicked: add,
    async enqueueJob(job) {
      const route = KIND_ROUTING[job.kind];
      const entry: FairEntry = {
        jobId: job.id,
        tenantId: job.tenant_id,
        name: route.name,
        priority: job.priority ?? 0,
        weight: weightOfPriority(job.priority),
      };
      if (fair && FAIR_QUEUES.includes(route.queue)) await fair.enqueue(route.queue, entry);
      else await add(queue(route.queue), entry);
    },
    async enqueueCallback(payload) {
      await queue(JOBS['callback.deliver'].queue).add('callback.deliver', payload, {
        ...baseJobOptions('callback.deliver'),
        jobId: payload.deliveryId,
      });
    },
    async enqueueSupport(payload) {
      await queue(JOBS['support.deliver'].queue).add('support.deliver', payload, {
        ...baseJobOptions('support.deliver'),
        jobId: payload.ticketId,
      });
    },
    async close() {
      await Promise.all([...queues.values()].map((q) => q.close()));
    },
  };
}
