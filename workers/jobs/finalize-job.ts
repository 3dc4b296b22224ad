import type { Knex } from 'knex';
import { recordCallback } from '../../shared/jobs/callback-event.ts';
import type { FinalStatus, JobRow } from '../../shared/jobs/job-contract.ts';
import type { JobRepository } from '../../shared/jobs/job-repository.ts';
import type { WorkerServices } from './services.ts';

export type { FinalStatus };

/**
 * Moves a job to its final status in one transaction with what must happen exactly then:
 * the reservation is settled (success) or released (failure/cancel), and the client callback
 * is recorded as a pending delivery. After commit the final event is announced on the tenant's
 * stream and the callback enqueued; if that enqueue is lost, the reconciler finds the pending delivery.
 */
export async function finalizeJob(
  services: WorkerServices,
  store: JobRepository,
  job: JobRow,
  status: FinalStatus,
  error?: { code: string; message: string },
): Promise<boolean> {
  const changed = await services.db.transaction(async (trx: Knex.Transaction) => {
    const ok = await store.finish(trx, job.id, status, error);
    if (!ok) return null;
    if (status === 'succeeded') await services.quota?.settle(trx, job.id);
    else await services.quota?.release(trx, job.id);
    return { callback: await recordCallback(trx, services.config.PUBLIC_URL, job.id, status) };
  });
  if (!changed) return false;
  services.metrics.jobsFinished.inc({ kind: job.kind, outcome: status });
  const final = changed.callback;
  if (!final) return true;
  await services.events.publish(final.tenantId, final.event);
  if (final.deliveryId) {
    await services.producer
      .enqueueCallback({ deliveryId: final.deliveryId, tenantId: final.tenantId })
      .catch((err: unknown) =>
        services.logger.warn({ err, job_id: job.id }, 'callback enqueue failed; reconciler will retry'),
      );
  }
  return true;
}
