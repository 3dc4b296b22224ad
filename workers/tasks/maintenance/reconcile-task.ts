import { enqueueDeletionJob } from '../../../shared/account/deletion-queue.ts';
import { createJobRepository } from '../../../shared/jobs/job-repository.ts';
import { KIND_ROUTING } from '../../../shared/queue/queues.ts';
import { finalizeJob } from '../../jobs/finalize-job.ts';
import type { WorkerServices } from '../../jobs/services.ts';

/** A job BullMQ gave up on (stalled too often) is re-added at most this many times in all. */
const MAX_REENQUEUES = 3;

/**
 * jobs.reconcile — keeps "a 202 is a promise" when Redis forgets. For every job Postgres holds
 * as queued/running that has been quiet a while, look it up in BullMQ: missing (Redis lost
 * its data, or the API's enqueue failed) → add it again (jobId = job id makes this safe);
 * failed in BullMQ while open in Postgres (stalled past maxStalledCount) → re-add while under
 * the cap, else fail it; completed in BullMQ but open here → it lost its final write: fail it.
 * Pending client callbacks and support tickets with no queue entry are re-added too.
 */
export async function reconcileJobs(
  services: WorkerServices,
): Promise<{ reenqueued: number; failed: number }> {
  const { db, producer, metrics, logger } = services;
  // Open jobs untouched for this long are checked against BullMQ (default 15 s). Compared on
  // Postgres's clock, the one that wrote updated_at.
  const quiet = services.config.RECONCILE_QUIET_SECONDS;
  const quietSince = db.raw('now() - make_interval(secs => ?)', [quiet]);
  const store = createJobRepository();
  let reenqueued = 0;
  let failed = 0;
  const open = await store.quietOpenJobs(db, quiet, 500);
  for (const row of open) {
    const route = KIND_ROUTING[row.kind];
    const queue = producer.queue(route.queue);
    const existing = await queue.getJob(row.id);
    const state = existing ? await existing.getState() : 'missing';
    if (['waiting', 'active', 'delayed', 'prioritized', 'waiting-children'].includes(state)) continue;
    // Waiting its fair turn on its tenant's list: not lost. After a Redis loss it is in neither
    // place, and is enqueued again below, which rebuilds the fair-share state from Postgres.
    if (state === 'missing' && (await producer.fair?.holds(route.queue, row.id))) continue;
    if (
      state === 'missing' ||
      (state === 'failed' && row.reenqueues < MAX_REENQUEUES) ||
      state === 'unknown'
    ) {
      if (existing) await existing.remove().catch(() => undefined);
      if (row.kind === 'deletion') {
        // A deletion waits out its grace period: re-add it with its delay, never at once.
        const scheduled = (row.payload as { scheduled_for?: string } | null)?.scheduled_for;
        await enqueueDeletionJob(producer, {
          id: row.id,
          tenant_id: row.tenant_id,
          scheduledFor: scheduled ? new Date(scheduled) : new Date(),
        });
      } else {
        await producer.enqueueJob({
          id: row.id,
          tenant_id: row.tenant_id,
          kind: row.kind,
          priority: row.priority,
        });
      }
      await store.markReenqueued(db, row.id, state === 'failed');
      metrics.reconcilerEnqueued.inc();
      reenqueued++;
      logger.warn(
        { job_id: row.id, bull_state: state },
        'reconciler re-enqueued a job BullMQ no longer held',
      );
      continue;
    }
    // Completed in BullMQ but open in Postgres, or failed too often: end it visibly, releasing
    // its reservation and telling the client, like any other failure.
    const full = await store.find(db, row.tenant_id, row.id);
    if (
      full &&
      (await finalizeJob(services, store, full, 'failed', {
        code: 'lost',
        message: `the queue lost this job (state ${state}) and it could not be recovered`,
      }))
    ) {
      failed++;
    }
  }

  const pending = await db('webhook_deliveries')
    .select('id', 'tenant_id')
    .where({ status: 'pending' })
    .where('created_at', '<=', quietSince)
    .limit(500);
  for (const d of pending) {
    const existing = await producer.queue('callbacks').getJob(d.id);
    if (!existing) await producer.enqueueCallback({ deliveryId: d.id, tenantId: d.tenant_id });
  }

  // Support tickets still pending with nothing queued (a lost enqueue) or a BullMQ job that gave
  // up without the delivery deciding (it marks the ticket failed itself when it does).
  const tickets = await db('support_tickets')
    .select('id', 'tenant_id')
    .where({ status: 'pending' })
    .where('created_at', '<=', quietSince)
    .limit(500);
  for (const t of tickets) {
    const existing = await producer.queue('callbacks').getJob(t.id);
    const state = existing ? await existing.getState() : 'missing';
    if (state !== 'missing' && state !== 'failed' && state !== 'completed') continue;
    if (existing) await existing.remove().catch(() => undefined);
    await producer.enqueueSupport({ ticketId: t.id, tenantId: t.tenant_id });
  }
  return { reenqueued, failed };
}
