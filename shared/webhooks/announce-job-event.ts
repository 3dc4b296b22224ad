import type { Knex } from 'knex';
import { type EventWriter, newEvent } from '../events/event-stream.ts';
import type { EventType } from '../events/event-types.ts';
import type { Logger } from '../logging/logger.ts';
import type { Producer } from '../queue/producer.ts';
import { type DefaultEndpoint, endpointFor, endpointTaking, recordDelivery } from './deliveries.ts';

export interface AnnounceJobEventDeps {
  db: Knex;
  events: EventWriter;
  producer: Pick<Producer, 'enqueueCallback'>;
  logger: Logger;
  /** The tenant's default endpoint, when the caller has it at hand (the API caches it); default: read it. */
  endpoint?: (tenantId: string) => Promise<DefaultEndpoint | null>;
}

/**
 * Announces a job's event on the tenant's stream and, when the tenant's default endpoint takes
 * this type and the job has no callback_url (a callback_url gets the final events only), records
 * its delivery and enqueues it. For the events of a running job (queued, started, steps,
 * progress): the final ones are recorded with the status change (`recordCallback`). Recording
 * comes after the state write it reports, so a crash in between loses the webhook, never the
 * state; a lost enqueue is picked up by the reconciler like any pending delivery.
 */
export async function announceJobEvent(
  deps: AnnounceJobEventDeps,
  job: { id: string; tenant_id: string; callback_url: string | null },
  type: EventType,
  data: Record<string, unknown>,
): Promise<void> {
  const event = newEvent(type, data);
  let deliveryId: string | null = null;
  if (!job.callback_url) {
    try {
      const url = deps.endpoint
        ? endpointTaking(await deps.endpoint(job.tenant_id), type)
        : await endpointFor(deps.db, job.tenant_id, type);
      if (url)
        deliveryId = await recordDelivery(deps.db, { tenantId: job.tenant_id, jobId: job.id, url, event });
    } catch (err) {
      deps.logger.warn({ err, job_id: job.id, event: type }, 'recording a job event webhook failed');
    }
  }
  await deps.events.publish(job.tenant_id, event);
  if (deliveryId) {
    await deps.producer
      .enqueueCallback({ deliveryId, tenantId: job.tenant_id })
      .catch((err: unknown) =>
        deps.logger.warn({ err, job_id: job.id }, 'job event webhook enqueue failed; reconciler will retry'),
      );
  }
}
