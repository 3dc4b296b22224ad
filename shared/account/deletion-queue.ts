import { baseJobOptions, type Producer } from '../queue/producer.ts';
import { KIND_ROUTING, type TenantJobPayload } from '../queue/queues.ts';

/**
 * Adds an account deletion to BullMQ, delayed until its grace period ends. Whoever (re-)enqueues
 * a `deletion` job — the API when it is scheduled, the reconciler after a Redis loss — must use
 * this rather than `enqueueJob`, or the deletion would run at once.
 *
 * `removeOnComplete: true`: once the tenant is gone, nothing in Redis may still name it.
 */
export async function enqueueDeletionJob(
  producer: Producer,
  job: { id: string; tenant_id: string; scheduledFor: Date },
  now: number = Date.now(),
): Promise<void> {
  const route = KIND_ROUTING.deletion;
  const data: TenantJobPayload = { jobId: job.id, tenantId: job.tenant_id };
  await producer.queue(route.queue).add(route.name, data, {
    ...baseJobOptions(route.name),
    jobId: job.id,
    delay: Math.max(0, job.scheduledFor.getTime() - now),
    removeOnComplete: true,
  });
}
