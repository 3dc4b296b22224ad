import { TimeoutError, withTimeout } from '../async/with-timeout.ts';
import { newId } from '../ids/ids.ts';
import type { Logger } from '../logging/logger.ts';
import type { RedisClient } from '../redis/redis.ts';
import type { EventType, TenantEvent } from './event-types.ts';

/**
 * The tenant's event stream key. The tenant id is the hash tag (`{…}`), so on Redis Cluster all of
 * one tenant's keys live in one slot and a tenant's stream is read with single-slot commands.
 */
export function eventStreamKey(redisPrefix: string, tenantId: string): string {
  return `${redisPrefix}:events:{${tenantId}}`;
}

/** A stream entry: its Redis stream id (`<ms>-<seq>`, monotonic per tenant) and the event. */
export interface StreamEvent {
  streamId: string;
  jobId: string | null;
  event: TenantEvent;
}

export interface EventWriterOptions {
  redis: RedisClient;
  redisPrefix: string;
  logger: Logger;
  /** How long events are kept at least. Default 24 h. */
  retentionMs?: number;
  /** Longest an emit waits for Redis before giving up (the state change is committed already). Default 2000 ms. */
  timeoutMs?: number;
}

export interface EventWriter {
  /**
   * Appends an event to the tenant's stream and returns its stream id, or null when Redis did
   * not take it in time. Never throws: events are announced after the Postgres commit that made
   * them true, so a Redis outage loses the announcement, not the state (clients fall back to
   * polling `GET /v1/jobs/:id`; webhooks have their own durable outbox in Postgres).
   */
  emit(tenantId: string, type: EventType, data: Record<string, unknown>): Promise<string | null>;
  /** Appends an event built before (e.g. the one a webhook delivery carries, so both are identical). */
  publish(tenantId: string, event: TenantEvent): Promise<string | null>;
}

/** Builds an event (id and timestamp now). */
export function newEvent(type: EventType, data: Record<string, unknown>, id?: string): TenantEvent {
  return { id: id ?? newId('evt'), type, created_at: new Date().toISOString(), data };
}

export function createEventWriter(opts: EventWriterOptions): EventWriter {
  const retentionMs = opts.retentionMs ?? 24 * 3_600_000;
  const timeoutMs = opts.timeoutMs ?? 2_000;
  const publish = async (tenantId: string, event: TenantEvent): Promise<string | null> => {
    const { type, data } = event;
    const key = eventStreamKey(opts.redisPrefix, tenantId);
    const job = (data.job as { id?: unknown } | undefined)?.id;
    // MINID with `~` trims whole radix-tree nodes only, so it keeps at least the retention
    // window; the key's TTL removes the stream of a tenant that has gone quiet.
    const minId = String(Date.now() - retentionMs);
    const write = opts.redis
      .multi()
      .xadd(
        key,
        'MINID',
        '~',
        minId,
        '*',
        'type',
        type,
        'job',
        typeof job === 'string' ? job : '',
        'event',
        JSON.stringify(event),
      )
      .pexpire(key, retentionMs + 3_600_000)
      .exec();
    try {
      const result = await withTimeout(write, timeoutMs, 'event write');
      // A null exec (the MULTI was discarded) wrote nothing either.
      if (!result) throw new Error('the event write was discarded');
      const [err, streamId] = result[0] ?? [];
      if (err) throw err;
      return String(streamId);
    } catch (err) {
      if (err instanceof TimeoutError) {
        opts.logger.warn({ tenant_id: tenantId, type }, 'event not written: redis timed out');
      } else {
        opts.logger.warn({ err, tenant_id: tenantId, type }, 'event not written');
      }
      return null;
    }
  };
  return {
    publish,
    emit: (tenantId, type, data) => publish(tenantId, newEvent(type, data)),
  };
}

/** Parses an XRANGE/XREAD entry (`[id, [field, value, …]]`); null for an entry we cannot read. */
export function parseStreamEntry(entry: [string, string[]]): StreamEvent | null {
  const [streamId, fields] = entry;
  const get = (name: string) => {
    const i = fields.findIndex((f, n) => n % 2 === 0 && f === name);
    return i >= 0 ? fields[i + 1] : undefined;
  };
  const raw = get('event');
  if (!raw) return null;
  try {
    const event = JSON.parse(raw) as TenantEvent;
    return { streamId, jobId: get('job') || null, event };
  } catch {
    return null;
  }
}

/** Events after `afterId` (exclusive) up to `untilId` (inclusive, default the newest), oldest first. */
export async function readEventsAfter(
  redis: RedisClient,
  key: string,
  afterId: string,
  opts: { untilId?: string; count?: number } = {},
): Promise<StreamEvent[]> {
  const entries = (await redis.xrange(
    key,
    `(${afterId}`,
    opts.untilId ?? '+',
    'COUNT',
    opts.count ?? 500,
  )) as Array<[string, string[]]>;
  return entries.map(parseStreamEntry).filter((e): e is StreamEvent => e !== null);
}

/** Compares two stream ids (`<ms>-<seq>`) numerically. */
export function compareStreamIds(a: string, b: string): number {
  const [am = '0', as = '0'] = a.split('-');
  const [bm = '0', bs = '0'] = b.split('-');
  const d = BigInt(am) - BigInt(bm) || BigInt(as) - BigInt(bs);
  return d < 0n ? -1 : d > 0n ? 1 : 0;
}

export const STREAM_ID_PATTERN = /^\d{1,20}-\d{1,20}$/;
