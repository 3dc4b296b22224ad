import type { Knex } from 'knex';
import { appendAudit } from '../../../shared/audit/audit-log.ts';
import type { TenantGenerations } from '../../../shared/auth/tenant-generation.ts';
import { ConflictError, NotFoundError, ValidationError } from '../../../shared/errors/http-errors.ts';
import type { EventWriter } from '../../../shared/events/event-stream.ts';
import { newEvent } from '../../../shared/events/event-stream.ts';
import { assertPublicHttpUrl } from '../../../shared/net/safe-fetch.ts';
import { UnsafeUrlError } from '../../../shared/net/unsafe-url-error.ts';
import type { Producer } from '../../../shared/queue/producer.ts';
import { QUEUES } from '../../../shared/queue/queues.ts';
import { recordDelivery } from '../../../shared/webhooks/deliveries.ts';
import { listOf } from '../../http/contract-schemas.ts';
import { decodeTimeCursor, encodeCursor } from '../../http/keyset-cursor.ts';
import { defineOperation, type Operation } from '../../http/operation.ts';
import { auditActor, principalOf } from '../../http/request-context.ts';
import {
  deliveryExample,
  deliveryParams,
  deliveryView,
  deliveryViewSchema,
  endpointBody,
  endpointView,
  endpointViewSchema,
  listQuery,
} from './webhook-schemas.ts';
import type { WebhookStore } from './webhook-store.ts';

export interface WebhookRouteDeps {
  db: Knex;
  store: WebhookStore;
  producer: Producer;
  events: EventWriter;
  /** FETCH_ALLOW_PRIVATE */
  allowPrivateHosts: string[];
  /** Bumped after the endpoint changes: submits read it from every replica's auth cache. */
  generations: Pick<TenantGenerations, 'bump'>;
}

/**
 * The tenant's default webhook endpoint, the delivery log, replays and test events (admin+).
 * Endpoint URLs pass the same SSRF rules as callback_url; endpoint changes and replays are audited.
 */
export function webhookRoutes(deps: WebhookRouteDeps): Operation[] {
  const { db, store } = deps;
  const common = { tag: 'webhooks', auth: 'bearer', role: 'admin' } as const;

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

  const endpointExample = {
    url: 'https://example.com/hooks/rendermill',
    events: ['job.succeeded', 'job.failed'],
    created_at: '2026-12-01T10:00:00.000Z',
    updated_at: '2026-12-01T10:00:00.000Z',
  };

  return [
    defineOperation({
      ...common,
      operationId: 'getWebhookEndpoint',
      method: 'get',
      path: '/v1/webhook-endpoint',
      summary: 'The default endpoint: where events go when a job has no callback_url',
      errors: [404],
      responses: { 200: { description: 'The endpoint', body: endpointViewSchema, example: endpointExample } },
      handler: async (_input, req, res) => {
        const e = await store.endpoint(db, principalOf(req).tenantId);
        if (!e) throw new NotFoundError('No webhook endpoint is set');
        res.json(endpointView(e));
      },
    }),
    defineOperation({
      ...common,
      operationId: 'putWebhookEndpoint',
      method: 'put',
      path: '/v1/webhook-endpoint',
      summary: 'Set the default webhook endpoint (and which events it takes)',
      description:
        'The URL passes the same rules as `callback_url` (http(s), no private address). `events` absent or null: the final job events, usage alerts and test events; name any job event (`job.queued`, `job.started`, `job.step.started`, `job.step.succeeded`, `job.progress`) to get it too.',
      body: endpointBody,
      bodyExample: { url: 'https://example.com/hooks/rendermill', events: ['job.succeeded', 'job.failed'] },
      responses: { 200: { description: 'The endpoint', body: endpointViewSchema, example: endpointExample } },
      handler: async ({ body }, req, res) => {
        try {
          assertPublicHttpUrl(body.url, { allowPrivateHosts: deps.allowPrivateHosts });
        } catch (err) {
          if (!(err instanceof UnsafeUrlError)) throw err;
          throw new ValidationError([
            { path: '/url', message: `must be a public http(s) URL: ${err.message}` },
          ]);
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
        await deps.generations.bump([tenantId]);
        res.json(endpointView(row));
      },
    }),
    defineOperation({
      ...common,
      operationId: 'deleteWebhookEndpoint',
      method: 'delete',
      path: '/v1/webhook-endpoint',
      summary: 'Remove the default webhook endpoint',
      errors: [404],
      responses: { 204: { description: 'Removed' } },
      handler: async (_input, req, res) => {
        const tenantId = principalOf(req).tenantId;
        await db.transaction(async (trx) => {
          if (!(await store.deleteEndpoint(trx, tenantId)))
            throw new NotFoundError('No webhook endpoint is set');
          await appendAudit(trx, {
            ...auditActor(req),
            action: 'webhook_endpoint.deleted',
            targetType: 'tenant',
            targetId: tenantId,
          });
        });
        await deps.generations.bump([tenantId]);
        res.status(204).end();
      },
    }),
    defineOperation({
      ...common,
      operationId: 'listWebhookDeliveries',
      method: 'get',
      path: '/v1/webhook-deliveries',
      summary: 'The delivery log: each delivery with every attempt, newest first',
      query: listQuery,
      queryExample: { status: 'failed', event: 'job.succeeded', limit: '20' },
      responses: { 200: { description: 'One page of deliveries', body: listOf(deliveryViewSchema) } },
      handler: async ({ query: q }, req, res) => {
        const tenantId = principalOf(req).tenantId;
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
      },
    }),
    defineOperation({
      ...common,
      operationId: 'getWebhookDelivery',
      method: 'get',
      path: '/v1/webhook-deliveries/:id',
      summary: 'One delivery with every attempt',
      params: deliveryParams,
      responses: { 200: { description: 'The delivery', body: deliveryViewSchema, example: deliveryExample } },
      handler: async ({ params }, req, res) => {
        res.json(await viewOne(principalOf(req).tenantId, params.id));
      },
    }),
    defineOperation({
      ...common,
      operationId: 'replayWebhookDelivery',
      method: 'post',
      path: '/v1/webhook-deliveries/:id/replay',
      summary: 'Send a delivery again, with the same webhook-id',
      description: '409 while the delivery is still being attempted.',
      params: deliveryParams,
      errors: [409],
      responses: { 202: { description: 'Queued again', body: deliveryViewSchema } },
      handler: async ({ params }, req, res) => {
        const tenantId = principalOf(req).tenantId;
        const id = params.id;
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
      },
    }),
    defineOperation({
      ...common,
      operationId: 'sendTestWebhook',
      method: 'post',
      path: '/v1/webhooks/test',
      summary: 'Send a signed webhook.test event to the default endpoint',
      description: '404 when no default endpoint is set.',
      errors: [404],
      responses: { 202: { description: 'The delivery, queued', body: deliveryViewSchema } },
      handler: async (_input, req, res) => {
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
      },
    }),
  ];
}
