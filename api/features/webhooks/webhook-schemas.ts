import { z } from 'zod/v4';
import { ENDPOINT_EVENT_TYPES } from '../../../shared/webhooks/deliveries.ts';
import { idParam, nullableTime, rfc3339Query } from '../../http/contract-schemas.ts';
import type { AttemptRow, DeliveryRow, EndpointRow } from './webhook-store.ts';

/** Request and response schemas of the webhook operations, and the views that fill them. */

export const endpointBody = z.object({
  url: z.string().url().max(2000),
  /** Event types to receive; absent or null: the final job events, usage alerts and test events. */
  events: z.array(z.enum(ENDPOINT_EVENT_TYPES)).min(1).nullable().optional(),
});

export const listQuery = z.object({
  status: z.enum(['pending', 'delivered', 'failed']).optional(),
  job_id: z.string().min(1).max(64).optional(),
  event: z.enum(ENDPOINT_EVENT_TYPES).optional(),
  from: rfc3339Query.optional(),
  to: rfc3339Query.optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().max(200).optional(),
});

export const endpointViewSchema = z.object({
  url: z.string(),
  events: z.array(z.enum(ENDPOINT_EVENT_TYPES)).nullable(),
  created_at: nullableTime,
  updated_at: nullableTime,
});

export const deliveryViewSchema = z.object({
  id: z.string(),
  event: z.string(),
  event_id: z.string().nullable().describe('The event id, sent as `webhook-id` (replays keep it)'),
  job_id: z.string().nullable(),
  url: z.string(),
  status: z.enum(['pending', 'delivered', 'failed']),
  attempt_count: z.number().int(),
  last_status_code: z.number().int().nullable(),
  last_error: z.string().nullable(),
  next_retry_at: nullableTime,
  created_at: nullableTime,
  delivered_at: nullableTime,
  attempts: z.array(
    z.object({
      attempted_at: nullableTime,
      url: z.string(),
      status_code: z.number().int().nullable(),
      latency_ms: z.number(),
      response_body: z.string().nullable().describe('The first 2 KB of the answer'),
      error: z.string().nullable(),
      next_retry_at: nullableTime,
    }),
  ),
});

export const deliveryExample = {
  id: 'dlv_Q2VZm0cKj3xJ1pTn',
  event: 'job.succeeded',
  event_id: 'evt_r8T1mZ0aQ4vL9kPd',
  job_id: 'job_Vo4YFD-95mOogGvz',
  url: 'https://example.com/hooks/rendermill',
  status: 'delivered',
  attempt_count: 1,
  last_status_code: 200,
  last_error: null,
  next_retry_at: null,
  created_at: '2026-12-01T10:00:00.000Z',
  delivered_at: '2026-12-01T10:00:00.250Z',
  attempts: [
    {
      attempted_at: '2026-12-01T10:00:00.100Z',
      url: 'https://example.com/hooks/rendermill',
      status_code: 200,
      latency_ms: 150,
      response_body: 'ok',
      error: null,
      next_retry_at: null,
    },
  ],
};

export const deliveryParams = z.object({ id: idParam });

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export function endpointView(e: EndpointRow) {
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
