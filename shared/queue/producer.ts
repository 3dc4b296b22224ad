import { type JobsOptions, Queue } from 'bullmq';
import type { RedisClient } from '../redis/redis.ts';
import { policyFor } from './job-policies.ts';
import {
  bullPrefix,
  type CallbackPayload,
  type JobKind,
  KIND_ROUTING,
  type QueueName,
  type TenantJobPayload,
} from './queues.ts';

/** BullMQ producers for every queue, sharing one connection. */
export interface Producer {
  queue(name: QueueName): Queue;
  /** Adds a tenant job with jobId = our job id, so adding it twice (API + reconciler) is a no-op. */
  enqueueJob(job: { id: string; tenant_id: string; kind: JobKind; priority?: number }): Promise<void>;
  enqueueCallback(payload: CallbackPayload): Promise<void>;
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

export function createProducer(connection: RedisClient, redisPrefix: string): Producer {
  const queues = new Map<QueueName, Queue>();
  const queue = (name: QueueName) => {
    let q = queues.get(name);
    if (!q) {
      q = new Queue(name, { connection, prefix: bullPrefix(redisPrefix) });
      queues.set(name, q);
    }
    return q;
  };
  return {
    queue,
    async enqueueJob(job) {
      const route = KIND_ROUTING[job.kind];
      const data: TenantJobPayload = { jobId: job.id, tenantId: job.tenant_id };
      await queue(route.queue).add(route.name, data, {
        ...baseJobOptions(route.name),
        jobId: job.id,
        // BullMQ: 0 = no priority (fastest path); 1 is the highest priority, larger is lower.
        ...(job.priority ? { priority: job.priority } : {}),
      });
    },
    async enqueueCallback(payload) {
      await queue('callbacks').add('callback.deliver', payload, {
        ...baseJobOptions('callback.deliver'),
        jobId: payload.deliveryId,
      });
    },
    async close() {
      await Promise.all([...queues.values()].map((q) => q.close()));
    },
  };
}
