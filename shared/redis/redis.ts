import { Redis } from 'ioredis';

export type { Redis };

/**
 * One Redis connection. `maxRetriesPerRequest: null` is what BullMQ workers require (a
 * blocking command must wait for a reconnect, not fail); `connectTimeout` keeps a dead server
 * from hanging startup. API code that must answer quickly wraps its calls in timeouts itself.
 */
export function createRedis(url: string, opts: { lazyConnect?: boolean; name?: string } = {}): Redis {
  return new Redis(url, {
    maxRetriesPerRequest: null,
    enableReadyCheck: true,
    connectTimeout: 5_000,
    lazyConnect: opts.lazyConnect ?? false,
    connectionName: opts.name,
  });
}

/**
 * A connection for request paths (rate limits, enqueue from the API): a command fails after
 * 2 s instead of waiting for Redis to come back, so a request answers 503 rather than hanging.
 */
export function createRequestRedis(url: string, name: string): Redis {
  return new Redis(url, {
    maxRetriesPerRequest: 1,
    commandTimeout: 2_000,
    connectTimeout: 2_000,
    enableReadyCheck: true,
    connectionName: name,
  });
}
