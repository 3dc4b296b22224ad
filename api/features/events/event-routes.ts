import { once } from 'node:events';
import { type Request, type Response, Router } from 'express';
import { z } from 'zod';
import { ValidationError } from '../../../shared/errors/http-errors.ts';
import {
  compareStreamIds,
  eventStreamKey,
  readEventsAfter,
  STREAM_ID_PATTERN,
  type StreamEvent,
} from '../../../shared/events/event-stream.ts';
import { EVENT_TYPES, type EventType } from '../../../shared/events/event-types.ts';
import type { RedisClient } from '../../../shared/redis/redis.ts';
import { parseInput } from '../../../shared/validation/parse.ts';
import { principalOf } from '../../http/request-context.ts';
import { requireRole } from '../auth/authenticate.ts';
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

export const eventsQuery = z.object({
  job_id: z.string().min(1).max(64).optional(),
  /** Comma-separated event types. */
  types: typesParam.optional(),
  /** Resume after this event id (the `Last-Event-ID` header wins when both are sent). */
  since: z.string().regex(STREAM_ID_PATTERN, 'must be an event id such as 1733097600000-0').optional(),
});

function resumeFrom(req: Request, since: string | undefined): string | undefined {
  const header = req.get('last-event-id');
  if (header === undefined || header === '') return since;
  if (!STREAM_ID_PATTERN.test(header)) {
    throw new ValidationError([
      { path: '/headers/last-event-id', message: 'must be an event id such as 1733097600000-0' },
    ]);
  }
  return header;
}

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
export function eventRoutes(deps: EventRouteDeps): Router {
  const r = Router();

  r.get('/v1/events', requireRole('viewer'), async (req: Request, res: Response) => {
    const q = parseInput(eventsQuery, req.query);
    const from = resumeFrom(req, q.since);
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
  });

  return r;
}
