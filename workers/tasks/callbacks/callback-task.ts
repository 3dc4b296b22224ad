import { createHmac } from 'node:crypto';
import type { Job } from 'bullmq';
import { UnrecoverableError } from 'bullmq';
import { TaskError } from '../../../shared/errors/task-error.ts';
import { safeFetch } from '../../../shared/net/safe-fetch.ts';
import type { CallbackPayload } from '../../../shared/queue/queues.ts';
import type { WorkerServices } from '../../jobs/services.ts';

/** `Rendermill-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">` (README: Jobs API, Callbacks). */
export function signCallback(secret: string, body: string, timestamp: number): string {
  const v1 = createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
  return `t=${timestamp},v1=${v1}`;
}

/**
 * callback.deliver: POSTs one job event to the client's callback_url. Non-2xx, timeouts and
 * network errors throw, so BullMQ retries with backoff; the last failure marks it failed.
 * The URL goes through the same SSRF rules as image_url on every attempt (DNS may change).
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
  const tenant = await db('tenants').select('webhook_secret').where({ id: data.tenantId }).first();
  if (!tenant?.webhook_secret) return;

  const body = JSON.stringify(delivery.payload);
  const attempt = job.attemptsMade + 1;
  const last = attempt >= (job.opts.attempts ?? 1);
  let outcome: { code: number | null; error: string | null };
  try {
    const res = await safeFetch(delivery.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'user-agent': 'Rendermill-Webhooks/1',
        'rendermill-signature': signCallback(tenant.webhook_secret, body, Math.floor(Date.now() / 1000)),
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
    };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    // A URL the SSRF rules refuse stays refused: fail the delivery now instead of retrying.
    if (err instanceof TaskError && err.code === 'unsafe_url') {
      await db('webhook_deliveries')
        .update({ status: 'failed', attempts: attempt, last_error: message.slice(0, 500) })
        .where({ id: delivery.id });
      throw new UnrecoverableError(message);
    }
    outcome = { code: null, error: message.slice(0, 500) };
  }

  if (!outcome.error) {
    await db('webhook_deliveries')
      .update({
        status: 'delivered',
        attempts: attempt,
        last_status_code: outcome.code,
        last_error: null,
        delivered_at: db.fn.now(),
      })
      .where({ id: delivery.id });
    return;
  }
  await db('webhook_deliveries')
    .update({
      status: last ? 'failed' : 'pending',
      attempts: attempt,
      last_status_code: outcome.code,
      last_error: outcome.error,
    })
    .where({ id: delivery.id });
  throw new Error(`callback delivery failed: ${outcome.error}`);
}
