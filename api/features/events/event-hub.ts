import { eventStreamKey, parseStreamEntry, type StreamEvent } from '../../../shared/events/event-stream.ts';
import type { Logger } from '../../../shared/logging/logger.ts';
import type { RedisClient } from '../../../shared/redis/redis.ts';

export type EventListener = (e: StreamEvent) => void;

export interface Subscription {
  /** The stream id this subscription is live from: every later event reaches the listener. */
  position: string;
  close(): void;
}

export interface EventHub {
  /** Starts (or joins) this replica's reader of the tenant's stream; `onStop` runs when the hub stops. */
  subscribe(tenantId: string, listener: EventListener, onStop?: () => void): Promise<Subscription>;
  /** Subscribers per tenant, for tests and metrics. */
  size(): number;
  stop(): Promise<void>;
}

interface Feed {
  connection: RedisClient;
  lastId: string;
  listeners: Set<EventListener>;
  stoppers: Map<EventListener, () => void>;
  ready: Promise<void>;
  done: Promise<void>;
}

/**
 * One reader per tenant per API replica: a dedicated Redis connection runs `XREAD BLOCK` on the
 * tenant's stream and fans each entry out to that tenant's SSE clients here. Workers and other
 * replicas write the stream, so an event reaches a client on any replica. The reader starts
 * with the first subscriber and ends (its connection closed) with the last.
 */
export function createEventHub(deps: {
  connect(name: string): RedisClient;
  redisPrefix: string;
  logger: Logger;
  /** How long one XREAD blocks. Default 5000 ms. */
  blockMs?: number;
}): EventHub {
  const feeds = new Map<string, Feed>();
  const blockMs = deps.blockMs ?? 5_000;
  let stopped = false;

  function open(tenantId: string): Feed {
    const key = eventStreamKey(deps.redisPrefix, tenantId);
    const connection = deps.connect('rendermill-api-events');
    connection.on('error', (err: Error) =>
      deps.logger.debug({ err: err.message }, 'event reader redis error'),
    );
    const feed: Feed = {
      connection,
      lastId: '0-0',
      listeners: new Set(),
      stoppers: new Map(),
      ready: Promise.resolve(),
      done: Promise.resolve(),
    };
    feed.ready = (async () => {
      const newest = (await connection.xrevrange(key, '+', '-', 'COUNT', 1)) as Array<[string, string[]]>;
      feed.lastId = newest[0]?.[0] ?? '0-0';
    })();
    feed.done = (async () => {
      await feed.ready.catch(() => undefined);
      while (feed.listeners.size > 0 && !stopped) {
        try {
          const res = (await connection.xread(
            'COUNT',
            500,
            'BLOCK',
            blockMs,
            'STREAMS',
            key,
            feed.lastId,
          )) as Array<[string, Array<[string, string[]]>]> | null;
          for (const [, entries] of res ?? []) {
            for (const entry of entries) {
              feed.lastId = entry[0];
              const e = parseStreamEntry(entry);
              if (!e) continue;
              for (const l of [...feed.listeners]) l(e);
            }
          }
        } catch (err) {
          if (feed.listeners.size === 0 || stopped) break;
          deps.logger.warn({ err, tenant_id: tenantId }, 'event reader failed; retrying');
          await new Promise((r) => setTimeout(r, 1_000));
        }
      }
    })();
    return feed;
  }

  function close(tenantId: string, feed: Feed) {
    if (feeds.get(tenantId) === feed) feeds.delete(tenantId);
    // Interrupts the pending XREAD BLOCK; the loop sees no listeners and ends.
    feed.connection.disconnect();
  }

  return {
    async subscribe(tenantId, listener, onStop) {
      if (stopped) throw new Error('event hub stopped');
      let feed = feeds.get(tenantId);
      if (!feed) {
        feed = open(tenantId);
        feeds.set(tenantId, feed);
      }
      feed.listeners.add(listener);
      if (onStop) feed.stoppers.set(listener, onStop);
      const f = feed;
      try {
        await f.ready;
      } catch (err) {
        f.listeners.delete(listener);
        if (f.listeners.size === 0) close(tenantId, f);
        throw err;
      }
      return {
        position: f.lastId,
        close() {
          f.listeners.delete(listener);
          f.stoppers.delete(listener);
          if (f.listeners.size === 0) close(tenantId, f);
        },
      };
    },
    size() {
      let n = 0;
      for (const f of feeds.values()) n += f.listeners.size;
      return n;
    },
    async stop() {
      stopped = true;
      const all = [...feeds.entries()];
      for (const [tenantId, feed] of all) {
        for (const stop of feed.stoppers.values()) stop();
        feed.stoppers.clear();
        feed.listeners.clear();
        close(tenantId, feed);
      }
      await Promise.all(all.map(([, f]) => f.done));
    },
  };
}
