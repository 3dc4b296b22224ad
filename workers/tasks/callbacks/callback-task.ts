import type { Job } from 'bullmq';
import { UnrecoverableError } from 'bullmq';
import { backoffDelay } from '../../../shared/async/backoff.ts';
import { TaskError } from '../../../shared/errors/task-error.ts';
import { safeFetch } from '../../../shared/net/safe-fetch.ts';
import { type CallbackPayload, JOBS } from '../../../shared/queue/queues.ts';
import { legacySignature, signingSecrets, standardSignature } from '../../../shared/webhooks/signing.ts';
import type { WorkerServices } from '../../jobs/services.ts';

/** The delivery log keeps this much of each answer. */
const RESPONSE_BODY_BYTES = 2048;

/**
 * callback.deliver: POSTs one event to its URL (a job's callback_url or the tenant's endpoint),
 * signed the Standard Webhooks way (`webhook-id` = the event id, the same on every retry and
 * replay; `webhook-timestamp`; `webhook-signature`, one `v1,…` per live secret during a rotation)
 * and with the legacy `Rendermill-Signature`. Every attempt is logged with its status, latency,
 * the first 2 KB of the answer and the next retry time. Non-2xx, timeouts and network errors
 * throw, so BullMQ retries with backoff; the last failure marks the delivery failed. The URL goes
 * through the same SSRF rules as image_url on every attempt (DNS may change).
 */
export async function deliverCallback(
  services: WorkerServices,
  job: Job,
  data: CallbackPayload,
): Promise<void> {
  const { db } = services;
  const delivery = await db('webhook_deliveries')
    .where({ id: data.deliveryId, tenant_id: data.tenantId })
    .first();
  if (delivery?.status !== 'pending') return;
  const tenant = await db('tenants')
    .select('webhook_secret', 'webhook_secret_previous', 'webhook_secret_previous_until')
    .where({ id: data.tenantId })
    .first();
  const secrets = tenant ? signingSecrets(tenant) : [];
  if (secrets.length === 0) return;

  const body = JSON.stringify(delivery.payload);
  const messageId = String(delivery.event_id ?? (delivery.payload as { id?: string }).id ?? delivery.id);
  const attempt = job.attemptsMade + 1;
  const last = attempt >= (job.opts.attempts ?? 1);
  const timestamp = Math.floor(Date.now() / 1000);
  const started = performance.now();
  let outcome: { code: number | null; error: string | null; body: string | null };
  try {
    const res = await safeFetch(delivery.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'user-agent': 'Rendermill-Webhooks/1',
        'webhook-id': messageId,
        'webhook-timestamp': String(timestamp),
        'webhook-signature': standardSignature(secrets, messageId, timestamp, body),
        'rendermill-signature': legacySignature(secrets, timestamp, body),
        'rendermill-event': delivery.event,
        'rendermill-delivery': delivery.id,
      },
      body,
      timeoutMs: 10_000,
      maxBytes: 64 * 1024,
      maxRedirects: 0,
      allowPrivateHosts: services.config.FETCH_ALLOW_PRIVATE,
    });
    outcome = {
      code: res.status,
      error: res.status >= 200 && res.status < 300 ? null : `HTTP ${res.status}`,
      body: res.body.subarray(0, RESPONSE_BODY_BYTES).toString('utf8'),
    };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    outcome = { code: null, error: message.slice(0, 500), body: null };
    // A URL the SSRF rules refuse stays refused: fail the delivery now instead of retrying.
    if (err instanceof TaskError && err.code === 'unsafe_url') {
      await logAttempt(services, delivery, outcome, started, null);
      await db('webhook_deliveries')
        .update({ status: 'failed', attempts: attempt, last_error: outcome.error, next_retry_at: null })
        .where({ id: delivery.id });
      throw new UnrecoverableError(message);
    }
  }

  if (!outcome.error) {
    await logAttempt(services, delivery, outcome, started, null);
    await db('webhook_deliveries')
      .update({
        status: 'delivered',
        attempts: attempt,
        last_status_code: outcome.code,
        last_error: null,
        next_retry_at: null,
        delivered_at: db.fn.now(),
      })
      .where({ id: delivery.id });
    return;
  }
  // BullMQ's policy backoff (workers/worker-settings.ts: the catalog's) without its ±20 % jitter.
  const nextRetryAt = last
    ? null
    : new Date(
        Date.now() +
          backoffDelay({
            baseMs: JOBS['callback.deliver'].policy.backoffMs * services.config.JOB_BACKOFF_SCALE,
            attempt,
            jitter: 0,
          }),
      );
  await logAttempt(services, delivery, outcome, started, nextRetryAt);
  await db('webhook_deliveries')
    .update({
      status: last ? 'failed' : 'pending',
      attempts: attempt,
      last_status_code: outcome.code,
      last_error: outcome.error,
      next_retry_at: nextRetryAt,
    })
    .where({ id: delivery.id });
  throw new Error(`callback delivery failed: ${outcome.error}`);
}

async function logAttempt(
  services: WorkerServices,
  delivery: { id: string; tenant_id: string; url: string },
  outcome: { code: number | null; error: string | null; body: string | null },
  started: number,
  nextRetryAt: Date | null,
): Promise<void> {
  await services.db('webhook_attempts').insert({
    delivery_id: delivery.id,
    tenant_id: delivery.tenant_id,
    url: delivery.url,
    status_code: outcome.code,
    latency_ms: Math.round(performance.now() - started),
    response_body: outcome.body,
    error: outcome.error,
    next_retry_at: nextRetryAt,
  });
}
