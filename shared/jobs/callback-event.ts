import type { Knex } from 'knex';
import { newId } from '../ids/ids.ts';
import type { FinalStatus, JobRow } from './job-contract.ts';
import { createJobRepository } from './job-repository.ts';

const jobs = createJobRepository();

/** The body of a client callback (`job.succeeded|failed|canceled`), built from the job row. */
export function callbackEvent(publicUrl: string, row: JobRow, status: FinalStatus) {
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
              url: `${publicUrl}/v1/jobs/${row.id}/output`,
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

/**
 * Records the pending callback for a job's final status, in the transaction that sets it (so
 * the event exists if and only if the status does). Returns the delivery id to enqueue after
 * commit, or null when the job has no callback_url or the event was already recorded.
 */
export async function recordCallback(
  trx: Knex.Transaction,
  publicUrl: string,
  jobId: string,
  status: FinalStatus,
): Promise<{ deliveryId: string; tenantId: string } | null> {
  const row = await jobs.findById(trx, jobId);
  if (!row?.callback_url) return null;
  const deliveryId = newId('dlv');
  const inserted = await trx('webhook_deliveries')
    .insert({
      id: deliveryId,
      tenant_id: row.tenant_id,
      job_id: jobId,
      event: `job.${status}`,
      url: row.callback_url,
      payload: JSON.stringify(callbackEvent(publicUrl, row, status)),
    })
    .onConflict(['job_id', 'event'])
    .ignore()
    .returning('id');
  return inserted.length ? { deliveryId, tenantId: row.tenant_id } : null;
}
