import type { Knex } from 'knex';
import type { EventType, TenantEvent } from '../events/event-types.ts';
import { newId } from '../ids/ids.ts';

/** The final job events: recorded once per job and type, for the job's callback_url or the default endpoint. */
export const FINAL_JOB_EVENT_TYPES = [
  'job.succeeded',
  'job.failed',
  'job.canceled',
] as const satisfies readonly EventType[];

/**
 * What a default endpoint takes when its `events` is null: the final job events, usage alerts
 * and test events (the running job's events would be a request per step; ask for them by name).
 */
export const WEBHOOK_EVENT_TYPES = [
  'job.succeeded',
  'job.failed',
  'job.canceled',
  'usage.threshold_reached',
  'webhook.test',
] as const satisfies readonly EventType[];

/**
 * Every type a default endpoint can ask for in `events`: every job event of the stream (exports
 * and deletions are jobs too), usage alerts and test events. `billing.subscription_updated` and
 * `notification.created` are stream-only signals for the dashboard.
 */
export const ENDPOINT_EVENT_TYPES = [
  'job.queued',
  'job.started',
  'job.step.started',
  'job.step.succeeded',
  'job.progress',
  ...WEBHOOK_EVENT_TYPES,
] as const satisfies readonly EventType[];

const isFinal = (type: string) => (FINAL_JOB_EVENT_TYPES as readonly string[]).includes(type);

/** A tenant's default endpoint: its URL and the event types it asked for (null: the default set). */
export interface DefaultEndpoint {
  url: string;
  events: string[] | null;
}

/** The endpoint's URL if it takes events of this type. */
export function endpointTaking(endpoint: DefaultEndpoint | null, type: EventType): string | null {
  if (!endpoint) return null;
  const { events } = endpoint;
  if (events && !events.includes(type)) return null;
  if (!events && !(WEBHOOK_EVENT_TYPES as readonly string[]).includes(type)) return null;
  return endpoint.url;
}

export async function defaultEndpoint(
  db: Knex | Knex.Transaction,
  tenantId: string,
): Promise<DefaultEndpoint | null> {
  const row: DefaultEndpoint | undefined = await db('webhook_endpoints')
    .select('url', 'events')
    .where({ tenant_id: tenantId })
    .first();
  return row ?? null;
}

/** The tenant's default endpoint URL, if it takes events of this type. */
export async function endpointFor(
  db: Knex | Knex.Transaction,
  tenantId: string,
  type: EventType,
): Promise<string | null> {
  return endpointTaking(await defaultEndpoint(db, tenantId), type);
}

/**
 * Records a pending delivery of an event to a URL (the outbox row the callback task sends and the
 * reconciler re-enqueues if the enqueue is lost). A job's final event is recorded once per job and type; its other events once each.
 * Returns the delivery id, or null when it was recorded before.
 */
export async function recordDelivery(
  db: Knex | Knex.Transaction,
  args: { tenantId: string; jobId: string | null; url: string; event: TenantEvent },
): Promise<string | null> {
  const row = {
    id: newId('dlv'),
    tenant_id: args.tenantId,
    job_id: args.jobId,
    event: args.event.type,
    event_id: args.event.id,
    url: args.url,
    payload: JSON.stringify(args.event),
  };
  if (!args.jobId || !isFinal(args.event.type)) {
    const [inserted] = await db('webhook_deliveries').insert(row).returning('id');
    return inserted?.id ?? null;
  }
  // Conflict target names the partial unique index (migration 20261202041500_webhook_every_event).
  const inserted = await db.raw<{ rows: Array<{ id: string }> }>(
    `INSERT INTO webhook_deliveries (id, tenant_id, job_id, event, event_id, url, payload)
     VALUES (:id, :tenant_id, :job_id, :event, :event_id, :url, :payload)
     ON CONFLICT (job_id, event) WHERE event IN ('job.succeeded', 'job.failed', 'job.canceled') DO NOTHING
     RETURNING id`,
    row,
  );
  return inserted.rows[0]?.id ?? null;
}
