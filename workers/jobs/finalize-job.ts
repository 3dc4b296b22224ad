import type { Knex } from 'knex';
import { newId } from '../../shared/ids/ids.ts';
import type { JobStore } from './job-store.ts';
import type { WorkerServices } from './services.ts';
import type { JobRow } from './step.ts';

export type FinalStatus = 'succeeded' | 'failed' | 'canceled';

/**
 * Moves a job to its final status in one transaction with what must happen exactly then:
 * the reservation is settled (success) or released (failure/cancel), and the client callback
 * is recorded as a pending delivery. The callback is enqueued after commit; if that enqueue is
 * lost, the reconciler finds the pending delivery.
 */
export async function finalizeJob(
  services: WorkerServices,
  store: JobStore,
  job: JobRow,
  status: FinalStatus,
  error?: { code: string; message: string },
): Promise<boolean> {
  const deliveryId = newId('dlv');
  const changed = await services.db.transaction(async (trx: Knex.Transaction) => {
    const ok = await store.finish(
      trx,
      job.id,
      status,
      error ? { error_code: error.code, error_message: error.message.slice(0, 1000) } : {},
    );
    if (!ok) return false;
    if (status === 'succeeded') await services.quota?.settle(trx, job.id);
    else await services.quota?.release(trx, job.id);
    if (job.callback_url) {
      const row = await trx('jobs').where({ id: job.id }).first();
      await trx('webhook_deliveries')
        .insert({
          id: deliveryId,
          tenant_id: job.tenant_id,
          job_id: job.id,
          event: `job.${status}`,
          url: job.callback_url,
          payload: JSON.stringify(callbackEvent(services.config.PUBLIC_URL, row, status)),
        })
        .onConflict(['job_id', 'event'])
        .ignore();
    }
    return true;
  });
  if (!changed) return false;
  services.metrics.jobsFinished.inc({ kind: job.kind, outcome: status });
  if (job.callback_url) {
    await services.producer
      .enqueueCallback({ deliveryId, tenantId: job.tenant_id })
      .catch((err: unknown) =>
        services.logger.warn({ err, job_id: job.id }, 'callback enqueue failed; reconciler will retry'),
      );
  }
  return true;
}

function callbackEvent(publicUrl: string, row: Record<string, unknown>, status: FinalStatus) {
  const hasOutput = status === 'succeeded' && row.output_key;
  return {
    id: newId('evt'),
    type: `job.${status}`,
    created_at: new Date().toISOString(),
    data: {
      job: {
        id: row.id,
        kind: row.kind,
        status,
        progress: row.progress,
        attempts: row.attempts,
        error: row.error_code ? { code: row.error_code, message: row.error_message } : null,
        output: hasOutput
          ? {
              url: `${publicUrl}/v1/jobs/${String(row.id)}/output`,
              content_type: row.output_content_type,
              bytes: row.output_bytes,
              duration_seconds: row.output_duration_seconds,
              expires_at: row.output_expires_at,
            }
          : null,
        metadata: row.metadata,
        created_at: row.created_at,
        finished_at: row.finished_at,
      },
    },
  };
}
