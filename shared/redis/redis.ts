import { Cluster, type ClusterOptions, Redis, type RedisOptions } from 'ioredis';

export type { Redis };
/** A standalone server or a Redis Cluster: everything that talks to Redis takes either. */
export type RedisClient = Redis | Cluster;

/** Where Redis is: one server (a redis:// URL) or the seed nodes of a cluster. */
export type RedisTarget =
  | { kind: 'single'; url: string }
  | {
      kind: 'cluster';
      nodes: Array<{ host: string; port: number }>;
      username?: string;
      password?: string;
      tls: boolean;
    };

const HOST_PORT = /^(\[[0-9a-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/i;

function parseNodes(list: string): Array<{ host: string; port: number }> | null {
  const nodes = list
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((entry) => {
      const m = HOST_PORT.exec(entry);
      const port = Number(m?.[2]);
      return m && port > 0 && port < 65536 ? { host: m[1]!.replace(/^\[|\]$/g, ''), port } : null;
    });
  if (!nodes.length || nodes.some((n) => n === null)) return null;
  return nodes as Array<{ host: string; port: number }>;
}

/**
 * Reads REDIS_URL (and REDIS_CLUSTER_NODES): `redis://` / `rediss://` is one server;
 * `redis-cluster://[user:pass@]h1:p1,h2:p2` (`rediss-cluster://` for TLS) is a cluster given by
 * some of its nodes. REDIS_CLUSTER_NODES (`h1:p1,h2:p2`), when set, makes it a cluster of those
 * nodes, with REDIS_URL's credentials and TLS. Returns null when the value does not parse.
 */
export function parseRedisTarget(url: string, clusterNodes?: string): RedisTarget | null {
  const m = /^(rediss?)(-cluster)?:\/\/(?:([^:@/]*)(?::([^@/]*))?@)?([^/?#]*)(.*)$/.exec(url);
  if (!m) return null;
  const [, scheme, cluster, user, pass, hosts = ''] = m;
  const auth = {
    ...(user ? { username: decodeURIComponent(user) } : {}),
    ...(pass ? { password: decodeURIComponent(pass) } : {}),
  };
  if (clusterNodes || cluster) {
    const nodes = parseNodes(clusterNodes || hosts);
    return nodes ? { kind: 'cluster', nodes, ...auth, tls: scheme === 'rediss' } : null;
  }
  try {
    new URL(url);
  } catch {
    return null;
  }
  return { kind: 'single', url };
}

function connect(target: RedisTarget, options: RedisOptions, cluster: ClusterOptions = {}): RedisClient {
  if (target.kind === 'single') return new Redis(target.url, options);
  return new Cluster(target.nodes, {
    ...cluster,
    redisOptions: {
      ...options,
      username: target.username,
      password: target.password,
      ...(target.tls ? { tls: {} } : {}),
    },
    enableReadyCheck: options.enableReadyCheck ?? true,
    enableOfflineQueue: options.enableOfflineQueue ?? true,
  });
}

function targetOf(url: string | RedisTarget): RedisTarget {
  if (typeof url !== 'string') return url;
  const t = parseRedisTarget(url);
  if (!t) throw new Error('REDIS_URL does not parse');
  return t;
}

/**
 * One Redis connection (a cluster client for a cluster target). `maxRetriesPerRequest: null` is
 * what BullMQ workers require (a blocking command must wait for a reconnect, not fail);
 * `connectTimeout` keeps a dead server from hanging startup. API code that must answer quickly
 * wraps its calls in timeouts itself.
 */
export function createRedis(
  url: string | RedisTarget,
  opts: { lazyConnect?: boolean; name?: string } = {},
): RedisClient {
  return connect(
    targetOf(url),
    {
      maxRetriesPerRequest: null,
      enableReadyCheck: true,
      connectTimeout: 5_000,
      lazyConnect: opts.lazyConnect ?? false,
      connectionName: opts.name,
    },
    { lazyConnect: opts.lazyConnect ?? false },
  );
}

/**
 * A connection for request paths (rate limits, enqueue from the API): a command fails after
 * 2 s instead of waiting for Redis to come back, so a request answers 503 rather than hanging.
 */
export function createRequestRedis(url: string | RedisTarget, name: string): RedisClient {
  return connect(
    targetOf(url),
    {
      maxRetriesPerRequest: 1,
      commandTimeout: 2_000,
      connectTimeout: 2_000,
      enableReadyCheck: true,
      connectionName: name,
      // Concurrent requests' commands that are issued in the same tick go out in one write: a
      // submit makes a handful of round trips, and on loopback each write costs more CPU than
      // the command itself.
      enableAutoPipelining: true,
    },
    // A cluster client re-reads the slot map on MOVED; a dead cluster fails the command quickly.
    { clusterRetryStrategy: (times) => Math.min(100 * times, 2_000), enableAutoPipelining: true },
  );
}
