import { type Request, Router } from 'express';
import type { Knex } from 'knex';
import { z } from 'zod';
import { appendAudit } from '../../../shared/audit/audit-log.ts';
import { ConflictError, NotFoundError, ValidationError } from '../../../shared/errors/http-errors.ts';
import type { EventWriter } from '../../../shared/events/event-stream.ts';
import { newEvent } from '../../../shared/events/event-stream.ts';
import { assertPublicHttpUrl } from '../../../shared/net/safe-fetch.ts';
import { UnsafeUrlError } from '../../../shared/net/unsafe-url-error.ts';
import type { Producer } from '../../../shared/queue/producer.ts';
import { QUEUES } from '../../../shared/queue/queues.ts';
import { parseInput } from '../../../shared/validation/parse.ts';
import { recordDelivery, WEBHOOK_EVENT_TYPES } from '../../../shared/webhooks/deliveries.ts';
import { decodeTimeCursor, encodeCursor } from '../../http/keyset-cursor.ts';
import { auditActor, principalOf } from '../../http/request-context.ts';
import { requireRole } from '../auth/authenticate.ts';
import type { AttemptRow, DeliveryRow, EndpointRow, WebhookStore } from './webhook-store.ts';

export interface WebhookRouteDeps {
  db: Knex;
  store: WebhookStore;
  producer: Producer;
  events: EventWriter;
  /** FETCH_ALLOW_PRIVATE */
  allowPrivateHosts: string[];
}

const endpointBody = z.object({
  url: z.string().url().max(2000),
  /** Event types to receive; absent or null: all that webhooks carry. */
  events: z.array(z.enum(WEBHOOK_EVENT_TYPES)).min(1).nullable().optional(),
});

const listQuery = z.object({
  status: z.enum(['pending', 'delivered', 'failed']).optional(),
  job_id: z.string().min(1).max(64).optional(),
  event: z.enum(WEBHOOK_EVENT_TYPES).optional(),
  from: z.coerce.date().optional(),
  to: z.coerce.date().optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().optional(),
});

const iso = (d: Date | null) => (d ? d.toISOString() : null);

function endpointView(e: EndpointRow) {
  return { url: e.url, events: e.events, created_at: iso(e.created_at), updated_at: iso(e.updated_at) };
}

export function deliveryView(d: DeliveryRow, attempts: AttemptRow[]) {
  return {
    id: d.id,
    event: d.event,
    event_id: d.event_id,
    job_id: d.job_id,
    url: d.url,
    status: d.status,
    attempt_count: d.attempts,
    last_status_code: d.last_status_code,
    last_error: d.last_error,
    next_retry_at: iso(d.next_retry_at),
    created_at: iso(d.created_at),
    delivered_at: iso(d.delivered_at),
    attempts: attempts
      .filter((a) => a.delivery_id === d.id)
      .map((a) => ({
        attempted_at: iso(a.attempted_at),
        url: a.url,
        status_code: a.status_code,
        latency_ms: a.latency_ms,
        response_body: a.response_body,
        error: a.error,
        next_retry_at: iso(a.next_retry_at),
      })),
  };
}

/**
 * The tenant's default webhook endpoint, the delivery log, replays and test events (admin+).
 * Endpoint URLs pass the same SSRF rules as callback_url; endpoint changes and replays are audited.
 */
export function webhookRoutes(deps: WebhookRouteDeps): Router {
  const r = Router();
  const { db, store } = deps;

  /** Adds the delivery's callback job; a finished BullMQ job of the same id is removed first (replays). */
  async function enqueue(tenantId: string, deliveryId: string) {
    const queue = deps.producer.queue(QUEUES.callbacks);
    const old = await queue.getJob(deliveryId);
    if (old && ((await old.isCompleted()) || (await old.isFailed()))) await old.remove();
    await deps.producer.enqueueCallback({ deliveryId, tenantId });
  }

  const viewOne = async (tenantId: string, id: string) => {
    const d = await store.delivery(db, tenantId, id);
    if (!d) throw new NotFoundError('Webhook delivery not found');
    return deliveryView(d, await store.attempts(db, tenantId, [d.id]));
  };

  r.get('/v1/webhook-endpoint', requireRole('admin'), async (req, res) => {
    const e = await store.endpoint(db, principalOf(req).tenantId);
    if (!e) throw new NotFoundError('No webhook endpoint is set');
    res.json(endpointView(e));
  });

  r.put('/v1/webhook-endpoint', requireRole('admin'), async (req: Request, res) => {
    const body = parseInput(endpointBody, req.body);
    try {
      assertPublicHttpUrl(body.url, { allowPrivateHosts: deps.allowPrivateHosts });
    } catch (err) {
      if (!(err instanceof UnsafeUrlError)) throw err;
      throw new ValidationError([{ path: '/url', message: `must be a public http(s) URL: ${err.message}` }]);
    }
    const tenantId = principalOf(req).tenantId;
    const row = await db.transaction(async (trx) => {
      const saved = await store.putEndpoint(trx, tenantId, body.url, body.events ?? null);
      await appendAudit(trx, {
        ...auditActor(req),
        action: 'webhook_endpoint.updated',
        targetType: 'tenant',
        targetId: tenantId,
        metadata: { host: new URL(body.url).host, events: body.events ?? null },
      });
      return saved;
    });
    res.json(endpointView(row));
  });

  r.delete('/v1/webhook-endpoint', requireRole('admin'), async (req, res) => {
    const tenantId = principalOf(req).tenantId;
    await db.transaction(async (trx) => {
      if (!(await store.deleteEndpoint(trx, tenantId))) throw new NotFoundError('No webhook endpoint is set');
      await appendAudit(trx, {
        ...auditActor(req),
        action: 'webhook_endpoint.deleted',
        targetType: 'tenant',
        targetId: tenantId,
      });
    });
    res.status(204).end();
  });

  r.get('/v1/webhook-deliveries', requireRole('admin'), async (req, res) => {
    const tenantId = principalOf(req).tenantId;
    const q = parseInput(listQuery, req.query);
    const rows = await store.deliveries(db, tenantId, {
      status: q.status,
      jobId: q.job_id,
      event: q.event,
      from: q.from,
      to: q.to,
      limit: q.limit,
      before: q.cursor ? decodeTimeCursor(q.cursor) : undefined,
    });
    const page = rows.slice(0, q.limit);
    const attempts = await store.attempts(
      db,
      tenantId,
      page.map((d) => d.id),
    );
    const last = page.at(-1);
    res.json({
      data: page.map((d) => deliveryView(d, attempts)),
      next_cursor: rows.length > q.limit && last ? encodeCursor([last.position, last.id]) : null,
    });
  });

  r.get('/v1/webhook-deliveries/:id', requireRole('admin'), async (req, res) => {
    res.json(await viewOne(principalOf(req).tenantId, String(req.params.id)));
  });

  r.post('/v1/webhook-deliveries/:id/replay', requireRole('admin'), async (req, res) => {
    const tenantId = principalOf(req).tenantId;
    const id = String(req.params.id);
    await db.transaction(async (trx) => {
      const d = await store.delivery(trx, tenantId, id);
      if (!d) throw new NotFoundError('Webhook delivery not found');
      if (d.status === 'pending') throw new ConflictError('This delivery is still being attempted');
      await store.markPending(trx, tenantId, id);
      await appendAudit(trx, {
        ...auditActor(req),
        action: 'webhook_delivery.replayed',
        targetType: 'webhook_delivery',
        targetId: id,
        metadata: { event: d.event, event_id: d.event_id },
      });
    });
    await enqueue(tenantId, id);
    res.status(202).json(await viewOne(tenantId, id));
  });

  r.post('/v1/webhooks/test', requireRole('admin'), async (req, res) => {
    const tenantId = principalOf(req).tenantId;
    const endpoint = await store.endpoint(db, tenantId);
    if (!endpoint) throw new NotFoundError('No webhook endpoint is set: PUT /v1/webhook-endpoint first');
    const event = newEvent('webhook.test', {
      message: 'A test event from Rendermill',
      endpoint: endpoint.url,
    });
    const id = await db.transaction(async (trx) => {
      const deliveryId = await recordDelivery(trx, { tenantId, jobId: null, url: endpoint.url, event });
      await appendAudit(trx, {
        ...auditActor(req),
        action: 'webhook.test_sent',
        targetType: 'webhook_delivery',
        targetId: deliveryId,
      });
      return deliveryId!;
    });
    await deps.events.publish(tenantId, event);
    await enqueue(tenantId, id);
    res.status(202).json(await viewOne(tenantId, id));
  });

  return r;
}
