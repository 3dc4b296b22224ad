import type { Knex } from 'knex';
import { newEvent } from '../events/event-stream.ts';
import type { TenantEvent } from '../events/event-types.ts';
import { endpointFor, recordDelivery } from '../webhooks/deliveries.ts';
import type { FinalStatus, JobRow } from './job-contract.ts';
import { createJobRepository } from './job-repository.ts';

const jobs = createJobRepository();

/** The `data.job` of every job event (stream and webhooks), built from the job row. */
export function jobEventData(publicUrl: string, row: JobRow): Record<string, unknown> {
  const hasOutput = row.status === 'succeeded' && row.output_key;
  return {
    id: row.id,
    kind: row.kind,
    status: row.status,
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
    finished_at: row.finished_at ?? null,
  };
}

/** The event of a job's final status (`job.succeeded|failed|canceled`), built from the job row. */
export function callbackEvent(publicUrl: string, row: JobRow, status: FinalStatus): TenantEvent {
  return newEvent(`job.${status}`, { job: jobEventData(publicUrl, { ...row, status }) });
}

/** A final job event, and the pending callback delivery recorded for it (if the job has a callback_url). */
export interface FinalJobEvent {
  tenantId: string;
  event: TenantEvent;
  /** To enqueue after commit; null when nothing is to be delivered or it was recorded before. */
  deliveryId: string | null;
}

/**
 * Builds the event of a job's final status and records its pending delivery — to the job's
 * callback_url, or else to the tenant's default endpoint if it takes this event — in the
 * transaction that sets the status (so the delivery exists if and only if the status does). The
 * caller announces the event on the stream and enqueues the delivery after commit.
 */
export async function recordCallback(
  trx: Knex.Transaction,
  publicUrl: string,
  jobId: string,
  status: FinalStatus,
): Promise<FinalJobEvent | null> {
  const row = await jobs.findById(trx, jobId);
  if (!row) return null;
  const event = callbackEvent(publicUrl, row, status);
  const tenantId = row.tenant_id;
  const url = row.callback_url ?? (await endpointFor(trx, tenantId, event.type));
  if (!url) return { tenantId, event, deliveryId: null };
  return { tenantId, event, deliveryId: await recordDelivery(trx, { tenantId, jobId, url, event }) };
}
