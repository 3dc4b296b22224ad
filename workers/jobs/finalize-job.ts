import type { Knex } from 'knex';
import { recordCallback } from '../../shared/jobs/callback-event.ts';
import type { FinalStatus, JobRow } from '../../shared/jobs/job-contract.ts';
import type { JobRepository } from '../../shared/jobs/job-repository.ts';
import { announceNotifications, type NewNotification, notify } from '../../shared/notifications/notify.ts';
import type { WorkerServices } from './services.ts';

export type { FinalStatus };

/**
 * Moves a job to its final status in one transaction with what must happen exactly then:
 * the reservation is settled (success) or released (failure/cancel), and the client callback
 * is recorded as a pending delivery. After commit the final event is announced on the tenant's
 * stream and the callback enqueued; if that enqueue is lost, the reconciler finds the pending delivery.
 * A finished export and a job failed for good also land in the feed of whoever asked for them.
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
    const notice = finalNotification(job, status, error);
    const notified = notice ? await notify(trx, notice) : 0;
    return {
      callback: await recordCallback(trx, services.config.PUBLIC_URL, job.id, status),
      notified: notified > 0 ? notice?.type : undefined,
    };
  });
  if (!changed) return false;
  services.metrics.jobsFinished.inc({ kind: job.kind, outcome: status });
  if (changed.notified) await announceNotifications(services.events, job.tenant_id, changed.notified);
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

/**
 * The feed entry a final status deserves: an export ready to download, or a job that failed after
 * its last attempt (told to the user who submitted it; a key's jobs go to the admins). Cancels are
 * the caller's own doing and successes are what they waited for: neither is news.
 */
function finalNotification(
  job: JobRow,
  status: FinalStatus,
  error?: { code: string; message: string },
): NewNotification | null {
  const submitter = job.created_by?.startsWith('usr_') ? { userId: job.created_by } : null;
  if (status === 'succeeded' && job.kind === 'export') {
    return {
      tenantId: job.tenant_id,
      type: 'export.ready',
      title: 'Your data export is ready',
      body: 'The ZIP of your workspace can be downloaded from the Account page until its link expires.',
      link: '/account',
      targetType: 'job',
      targetId: job.id,
      dedupeKey: `export.ready:${job.id}`,
      audience: submitter ?? 'admins',
    };
  }
  if (status === 'failed') {
    return {
      tenantId: job.tenant_id,
      type: 'job.failed',
      title: `A ${job.kind} job failed`,
      body: error ? `${error.code}: ${error.message}`.slice(0, 500) : 'It failed after its last attempt.',
      link: `/jobs/${job.id}`,
      targetType: 'job',
      targetId: job.id,
      dedupeKey: `job.failed:${job.id}`,
      audience: submitter ?? 'admins',
    };
  }
  return null;
}
