import type { Knex } from 'knex';
import type { EventType, TenantEvent } from '../events/event-types.ts';
import { newId } from '../ids/ids.ts';

/** The event types webhooks carry (the stream carries every type; progress stays on the stream). */
export const WEBHOOK_EVENT_TYPES = [
  'job.succeeded',
  'job.failed',
  'job.canceled',
  'usage.threshold_reached',
  'webhook.test',
] as const satisfies readonly EventType[];

/** The tenant's default endpoint URL, if it takes events of this type. */
export async function endpointFor(
  db: Knex | Knex.Transaction,
  tenantId: string,
  type: EventType,
): Promise<string | null> {
  const row = await db('webhook_endpoints').select('url', 'events').where({ tenant_id: tenantId }).first();
  if (!row) return null;
  const events = row.events as string[] | null;
  if (events && !events.includes(type)) return null;
  if (!events && !(WEBHOOK_EVENT_TYPES as readonly string[]).includes(type)) return null;
  return row.url as string;
}

/**
 * Records a pending delivery of an event to a URL (the outbox row the callback task sends and the
 * reconciler re-enqueues if the enqueue is lost). A job's event is recorded once per job and type.
 * Returns the delivery id, or null when it was recorded before.
 */
export async function recordDelivery(
  db: Knex | Knex.Transaction,
  args: { tenantId: string; jobId: string | null; url: string; event: TenantEvent },
): Promise<string | null> {
  const q = db('webhook_deliveries').insert({
    id: newId('dlv'),
    tenant_id: args.tenantId,
    job_id: args.jobId,
    event: args.event.type,
    event_id: args.event.id,
    url: args.url,
    payload: JSON.stringify(args.event),
  });
  const inserted = await (args.jobId ? q.onConflict(['job_id', 'event']).ignore() : q).returning('id');
  return (inserted[0]?.id as string | undefined) ?? null;
}
