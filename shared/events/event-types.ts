/**
 * The tenant event catalogue: what `GET /v1/events` streams and webhooks deliver. A job's
 * events carry `data.job` (id, kind, status, progress, …); exports and account deletions are
 * jobs of kind `export` / `deletion` and emit the same `job.*` events.
 * `billing.subscription_updated` follows every Stripe event applied to the tenant's plan or
 * subscription state (stream only, no webhook), so a dashboard re-reads it instead of polling.
 */
export const EVENT_TYPES = [
  'job.queued',
  'job.started',
  'job.step.started',
  'job.step.succeeded',
  'job.progress',
  'job.succeeded',
  'job.failed',
  'job.canceled',
  'usage.threshold_reached',
  'billing.subscription_updated',
  'webhook.test',
  // A notification feed changed (stream only): the dashboard's bell re-reads its count.
  'notification.created',
] as const;

export type EventType = (typeof EVENT_TYPES)[number];

export function isEventType(value: string): value is EventType {
  return (EVENT_TYPES as readonly string[]).includes(value);
}

/** One event, identical in the stream and in a webhook body. */
export interface TenantEvent {
  /** `evt_…`: the webhook-id of its deliveries */
  id: string;
  type: EventType;
  /** ISO 8601 */
  created_at: string;
  data: Record<string, unknown>;
}
