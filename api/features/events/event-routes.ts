import { once } from 'node:events';
import type { Request, Response } from 'express';
import { z } from 'zod/v4';
import {
  compareStreamIds,
  eventStreamKey,
  readEventsAfter,
  STREAM_ID_PATTERN,
  type StreamEvent,
} from '../../../shared/events/event-stream.ts';
import { EVENT_TYPES, type EventType } from '../../../shared/events/event-types.ts';
import type { RedisClient } from '../../../shared/redis/redis.ts';
import { defineOperation, type Operation } from '../../http/operation.ts';
import { principalOf } from '../../http/request-context.ts';
import type { EventHub } from './event-hub.ts';

export interface EventRouteDeps {
  hub: EventHub;
  /** A non-blocking connection for replays (XRANGE). */
  redis: RedisClient;
  redisPrefix: string;
  /** EVENTS_HEARTBEAT_SECONDS × 1000 */
  heartbeatMs: number;
  /** EVENTS_MAX_BUFFER_BYTES: a client this far behind is disconnected. */
  maxBufferBytes: number;
}

const typesParam = z
  .string()
  .transform((v) =>
    v
      .split(',')
      .map((t) => t.trim())
      .filter(Boolean),
  )
  .pipe(z.array(z.enum(EVENT_TYPES)));

const streamId = z.string().regex(STREAM_ID_PATTERN, 'must be an event id such as 1733097600000-0');

export const eventsQuery = z.object({
  job_id: z.string().min(1).max(64).optional(),
  /** Comma-separated event types. */
  types: typesParam.optional(),
  /** Resume after this event id (the `Last-Event-ID` header wins when both are sent). */
  since: streamId.optional(),
});

// `Last-Event-ID` is what EventSource sends on a reconnect; it wins over `?since=`.
const eventsHeaders = z.object({
  'Last-Event-ID': streamId
    .optional()
    .describe('Resume after this event id (sent by EventSource on reconnect)'),
});

/** A client left behind longer than this after being dropped has its socket destroyed. */
const END_GRACE_MS = 10_000;
const REPLAY_PAGE = 500;

/**
 * `GET /v1/events` (viewer+): the tenant's events as Server-Sent Events. Each message's `id` is
 * the stream id; a reconnect with `Last-Event-ID` (or `?since=`) gets every kept event after it,
 * then the live ones, with nothing lost or repeated in between. Heartbeats are SSE comments.
 * A client that cannot keep up (more than EVENTS_MAX_BUFFER_BYTES waiting for its socket) is
 * ended cleanly instead of buffered without bound; it resumes from its last id.
 */
export function eventRoutes(deps: EventRouteDeps): Operation[] {
  return [
    defineOperation({
      operationId: 'streamEvents',
      method: 'get',
      path: '/v1/events',
      tag: 'events',
      auth: 'bearer',
      summary: "The tenant's events as Server-Sent Events (resumable)",
      description:
        'Each message is `id: <event id>`, `event: <type>`, `data: <the event as JSON>` — the same JSON a webhook carries. Reconnect with `Last-Event-ID` (or `?since=`) to get every kept event after it (events are kept at least 24 h). Heartbeats are SSE comments. A client that falls too far behind is ended cleanly and resumes from its last id.',
      query: eventsQuery,
      queryExample: { types: 'job.succeeded,job.failed' },
      headers: eventsHeaders,
      responses: {
        200: {
          description: 'An endless text/event-stream',
          contentType: 'text/event-stream',
          body: z.string().describe('SSE messages; `data` is a TenantEvent as JSON'),
          example:
            'id: 1733097600000-0\nevent: job.succeeded\ndata: {"id":"evt_…","type":"job.succeeded","created_at":"…","data":{"job":{"id":"job_…"}}}\n\n',
        },
      },
      handler: (input, req, res) => stream(deps, input.query, input.headers['Last-Event-ID'], req, res),
    }),
  ];
}

async function stream(
  deps: EventRouteDeps,
  q: z.output<typeof eventsQuery>,
  lastEventId: string | undefined,
  req: Request,
  res: Response,
): Promise<void> {
  const from = lastEventId ?? q.since;
  const tenantId = principalOf(req).tenantId;
  const types = q.types?.length ? new Set<EventType>(q.types) : null;
  const matches = (e: StreamEvent) =>
    (!types || types.has(e.event.type)) && (!q.job_id || e.jobId === q.job_id);

  let lastSent = from ?? '0-0';
  let live = false;
  let ended = false;
  const pending: StreamEvent[] = [];
  let heartbeat: NodeJS.Timeout | undefined;
  let sub: { close(): void } | undefined;

  const end = () => {
    if (ended) return;
    ended = true;
    clearInterval(heartbeat);
    sub?.close();
    res.end();
    // A client that reads nothing would hold the socket until its buffer drains: not forever.
    setTimeout(() => res.destroy(), END_GRACE_MS).unref();
  };
  const send = (e: StreamEvent) => {
    if (ended || compareStreamIds(e.streamId, lastSent) <= 0) return;
    lastSent = e.streamId;
    if (!matches(e)) return;
    res.write(`id: ${e.streamId}\nevent: ${e.event.type}\ndata: ${JSON.stringify(e.event)}\n\n`);
    if (live && res.writableLength > deps.maxBufferBytes) end();
  };

  const subscription = await deps.hub.subscribe(
    tenantId,
    (e) => {
      if (live) send(e);
      else if (pending.length < 10_000) pending.push(e);
      else end();
    },
    end,
  );
  sub = subscription;
  req.on('close', end);
  if (!from) lastSent = subscription.position;

  res.status(200);
  res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
  res.setHeader('Cache-Control', 'no-cache, no-transform');
  res.setHeader('Connection', 'keep-alive');
  res.setHeader('X-Accel-Buffering', 'no');
  res.flushHeaders();
  res.write('retry: 2000\n\n');
  heartbeat = setInterval(() => res.write(': ping\n\n'), deps.heartbeatMs);

  try {
    if (from) {
      // Replay what was kept after `from`, up to where the live feed starts, waiting for the
      // socket between pages (a reconnecting client is not dropped for being behind).
      const key = eventStreamKey(deps.redisPrefix, tenantId);
      let cursor = from;
      for (;;) {
        if (compareStreamIds(cursor, subscription.position) >= 0 || ended) break;
        const page = await readEventsAfter(deps.redis, key, cursor, {
          untilId: subscription.position,
          count: REPLAY_PAGE,
        });
        for (const e of page) send(e);
        if (page.length < REPLAY_PAGE) break;
        cursor = page.at(-1)?.streamId ?? subscription.position;
        if (res.writableNeedDrain && !ended) await Promise.race([once(res, 'drain'), once(res, 'close')]);
      }
    }
  } catch {
    end();
    return;
  }
  live = true;
  for (const e of pending.splice(0)) send(e);
}
