import type { Knex } from 'knex';
import { TaskError } from '../../../shared/errors/task-error.ts';
import { createJobRepository } from '../../../shared/jobs/job-repository.ts';
import type { Producer } from '../../../shared/queue/producer.ts';
import { FAIR_QUEUES, KIND_ROUTING, QUEUES, type QueueName } from '../../../shared/queue/queues.ts';

const repository = createJobRepository();
/** How long the deletion waits for a canceled job's worker to let go of it before retrying the step. */
const ACTIVE_WAIT_MS = 30_000;
const POLL_MS = 200;

/** A job that is still running after its cancel was requested: the step fails and retries later. */
export class JobStillActiveError extends TaskError {
  constructor(readonly jobId: string) {
    super(`job ${jobId} is still running after its cancel; the deletion will retry`, 'step_failed', true);
  }
}

/**
 * Removes one BullMQ job. A job held by a worker cannot be removed (BullMQ refuses a locked
 * job), so an active one is waited for: its worker sees the cancel within seconds, ends the
 * job and lets go.
 */
async function removeWhenIdle(
  producer: Producer,
  queue: QueueName,
  id: string,
  signal: AbortSignal,
): Promise<boolean> {
  const deadline = Date.now() + ACTIVE_WAIT_MS;
  for (;;) {
    signal.throwIfAborted();
    const job = await producer.queue(queue).getJob(id);
    if (!job) return false;
    if ((await job.getState()) !== 'active') {
      try {
        await job.remove();
        return true;
      } catch {
        // Taken by a worker between the two calls: wait like for any active job.
      }
    }
    if (Date.now() > deadline) throw new JobStillActiveError(id);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

/**
 * Removes every BullMQ job that names the tenant: its jobs in any state (finished ones linger
 * for a while under BullMQ's retention) and its client callbacks. Callbacks go last, since a
 * job's worker records its final callback as it lets go.
 */
export async function purgeTenantQueues(
  db: Knex,
  producer: Producer,
  tenantId: string,
  selfJobId: string,
  signal: AbortSignal,
): Promise<number> {
  let removed = 0;
  // Jobs still on a fair-share waiting list are not in BullMQ yet.
  for (const q of FAIR_QUEUES) removed += (await producer.fair?.forgetTenant(q, tenantId)) ?? 0;
  let after = '';
  for (;;) {
    const jobs = await repository.tenantJobIds(db, { tenantId, exceptId: selfJobId, after, limit: 500 });
    for (const j of jobs) {
      if (await removeWhenIdle(producer, KIND_ROUTING[j.kind].queue, j.id, signal)) removed++;
    }
    if (jobs.length < 500) break;
    after = jobs.at(-1)!.id;
  }
  after = '';
  for (;;) {
    const deliveries: Array<{ id: string }> = await db('webhook_deliveries')
      .select('id')
      .where('tenant_id', tenantId)
      .where('id', '>', after)
      .orderBy('id')
      .limit(500);
    for (const d of deliveries) {
      if (await removeWhenIdle(producer, QUEUES.callbacks, d.id, signal)) removed++;
    }
    if (deliveries.length < 500) break;
    after = deliveries.at(-1)!.id;
  }
  return removed;
}
