import type { Knex } from 'knex';
import { withTimeout } from '../../../shared/async/with-timeout.ts';
import { appendAudit } from '../../../shared/audit/audit-log.ts';
import { roleAtLeast } from '../../../shared/auth/roles.ts';
import { ConflictError, ForbiddenError, NotFoundError } from '../../../shared/errors/http-errors.ts';
import type { EventWriter } from '../../../shared/events/event-stream.ts';
import { type FinalJobEvent, recordCallback } from '../../../shared/jobs/callback-event.ts';
import { isFinal, type JobRow } from '../../../shared/jobs/job-contract.ts';
import type { JobRepository } from '../../../shared/jobs/job-repository.ts';
import type { Logger } from '../../../shared/logging/logger.ts';
import type { QuotaService } from '../../../shared/metering/quota-service.ts';
import type { Producer } from '../../../shared/queue/producer.ts';
import { KIND_ROUTING } from '../../../shared/queue/queues.ts';
import type { JobView } from './job-serializer.ts';
import type { JobActor } from './submit-job.ts';

export interface CancelJobDeps {
  db: Knex;
  jobs: JobRepository;
  /** Metering: `release` frees a canceled queued job's reservation, in the cancel transaction. */
  quota: Pick<QuotaService, 'release'>;
  producer: Producer;
  events: EventWriter;
  logger: Logger;
  /** PUBLIC_URL, without a trailing slash (callback links). */
  publicUrl: string;
  /** Longest a request waits for Redis before leaving the rest to the reconciler / the worker. */
  queueTimeoutMs: number;
  view(job: JobRow): Promise<JobView>;
}

/**
 * The cancel use case, top to bottom: find (locked) → authorize → transition → transaction
 * { release, callback, audit } → dequeue → publish → callback enqueue → view.
 * queued → canceled now; running → cancel requested (its worker stops it); final → 409.
 */
export function createCancelJob(deps: CancelJobDeps) {
  const { db, jobs, producer, logger, publicUrl, queueTimeoutMs } = deps;

  async function cancel(actor: JobActor, id: string): Promise<JobView> {
    const { job, wasQueued, callback } = await db.transaction(async (trx) => {
      const current = await jobs.findForUpdate(trx, actor.tenantId, id);
      if (!current) throw new NotFoundError('Job not found');
      if (isFinal(current.status)) throw new ConflictError(`The job is already ${current.status}`);
      // An account deletion is stopped by its owner through /v1/account/delete/cancel only.
      if (current.kind === 'deletion' && !roleAtLeast(actor.role ?? 'viewer', 'owner')) {
        throw new ForbiddenError(
          'Only an owner can cancel an account deletion (POST /v1/account/delete/cancel)',
        );
      }
      const queued = current.status === 'queued';
      const updated = queued ? await jobs.cancelQueued(trx, id) : await jobs.requestCancel(trx, id);
      if (!updated) throw new NotFoundError('Job not found');
      if (queued) await deps.quota.release(trx, { tenantId: actor.tenantId, jobId: id });
      // A queued job never reaches a worker: its `job.canceled` callback is recorded here.
      const callback = queued ? await recordCallback(trx, publicUrl, id, 'canceled') : null;
      await appendAudit(trx, {
        ...actor.audit,
        tenantId: actor.tenantId,
        action: queued ? 'job.canceled' : 'job.cancel_requested',
        targetType: 'job',
        targetId: id,
        metadata: { kind: current.kind, previous_status: current.status },
      });
      return { job: updated, wasQueued: queued, callback };
    });
    if (wasQueued) await dequeue(job);
    if (callback) await announceFinal(callback);
    return deps.view(job);
  }

  /** After commit: a final event recorded with its status goes on the stream and its delivery to the queue. */
  async function announceFinal(final: FinalJobEvent): Promise<void> {
    await deps.events.publish(final.tenantId, final.event);
    if (!final.deliveryId) return;
    const payload = { deliveryId: final.deliveryId, tenantId: final.tenantId };
    await withTimeout(producer.enqueueCallback(payload), queueTimeoutMs, 'enqueueCallback').catch(
      (err: unknown) =>
        logger.warn(
          { err, delivery_id: final.deliveryId },
          'callback enqueue failed; the reconciler will add it',
        ),
    );
  }

  /**
   * In the transaction that cancels a queued job another feature owns (an account deletion):
   * its `job.canceled` event and delivery; `announceFinal` them after commit.
   */
  const recordCanceled = (trx: Knex.Transaction, jobId: string) =>
    recordCallback(trx, publicUrl, jobId, 'canceled');

  /** A canceled queued job must not start: drop it from BullMQ unless a worker already holds it. */
  async function dequeue(job: JobRow): Promise<void> {
    try {
      const queue = KIND_ROUTING[job.kind].queue;
      // Still waiting its fair turn: off its tenant's list, and it never reaches BullMQ.
      if (
        producer.fair &&
        (await withTimeout(producer.fair.remove(queue, job.tenant_id, job.id), queueTimeoutMs, 'fair.remove'))
      ) {
        return;
      }
      const queued = await withTimeout(producer.queue(queue).getJob(job.id), queueTimeoutMs, 'getJob');
      // remove() refuses a job locked by a worker; that worker sees `canceled` in Postgres and stops.
      if (queued) await withTimeout(queued.remove(), queueTimeoutMs, 'remove');
    } catch (err) {
      logger.info({ err, job_id: job.id }, 'canceled job left in BullMQ; its worker will skip it');
    }
  }

  return { cancel, announceFinal, recordCanceled };
}
