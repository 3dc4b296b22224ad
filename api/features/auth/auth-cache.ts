import { LRUCache } from 'lru-cache';
import type { TenantGenerations } from '../../../shared/auth/tenant-generation.ts';
import type { Logger } from '../../../shared/logging/logger.ts';
import type { ApiKeyRow } from '../api-keys/api-key-store.ts';
import type { SessionView } from './auth-store.ts';

/**
 * A per-replica cache of what authorization reads from Postgres on every request: API keys,
 * sessions, and a tenant's plan and default endpoint (one `TenantCache` each). It is only ever
 * as fresh as Postgres at the tenant generation the request read (tenant-generation.ts): an
 * entry is used only while the generation it was loaded under is still current, and every change
 * that could revoke or re-scope access bumps that generation after commit. So revocation takes
 * effect on the very next request on every replica, and the cache only removes repeated reads.
 *
 * Entries also expire after `ttlMs` (AUTH_CACHE_TTL_MS), which bounds how long a change made
 * behind the API's back (SQL by hand) can go unseen. Misses are never cached: an unknown API key
 * reads Postgres every time, as before.
 */
export interface TenantCache<T> {
  /**
   * `load` (from Postgres) unless `key` was loaded under generation `gen`, which is still
   * current. When the tenant is only known from the loaded value (`tenantOf`), pass `'unknown'`:
   * the generation is then read after a first load and the value loaded again under it, so a
   * change committed between the two reads is never cached as current.
   */
  get(key: string, gen: Generation | 'unknown', load: () => Promise<T | null>): Promise<Hit<T> | null>;
}

/** A tenant generation as read; `undefined` when Redis could not say (read Postgres, cache nothing). */
export type Generation = string | null | undefined;

export interface Hit<T> {
  value: T;
  /** The generation it is valid at (for the request's later reads of the same tenant). */
  gen: Generation;
}

export interface GenerationReader {
  /** The tenant's current generation, or `undefined` when Redis cannot say. */
  generation(tenantId: string): Promise<Generation>;
}

export interface CacheOptions {
  generations: Pick<TenantGenerations, 'read'>;
  logger: Logger;
  /** 0 turns caching off. Default 5 s. */
  ttlMs?: number;
  max?: number;
}

export function createGenerationReader(deps: CacheOptions): GenerationReader {
  return {
    async generation(tenantId) {
      try {
        return await deps.generations.read(tenantId);
      } catch (err) {
        deps.logger.warn({ err }, 'auth cache: tenant generation unreadable; reading Postgres');
        return undefined;
      }
    },
  };
}

export function createTenantCache<T extends object>(
  deps: CacheOptions & { tenantOf(value: T): string },
): TenantCache<T> {
  const ttl = deps.ttlMs ?? 5_000;
  // ttl 0 turns caching off (lru-cache would read 0 as "never expires").
  const cache =
    ttl > 0 ? new LRUCache<string, { value: T; gen: string | null }>({ max: deps.max ?? 50_000, ttl }) : null;
  const { generation } = createGenerationReader(deps);

  return {
    async get(key, gen, load) {
      /** Loads after `at` was read, and caches the value under it. */
      const store = async (at: Generation): Promise<Hit<T> | null> => {
        const value = await load();
        if (value === null) return null;
        if (cache && at !== undefined) cache.set(key, { value, gen: at });
        return { value, gen: at };
      };
      if (!cache) return store(undefined);

      const entry = cache.get(key);
      if (entry) {
        const current = gen === 'unknown' ? await generation(deps.tenantOf(entry.value)) : gen;
        if (current !== undefined && current === entry.gen) return { value: entry.value, gen: current };
        cache.delete(key);
        return store(current);
      }
      if (gen !== 'unknown') return store(gen);
      const first = await load();
      if (first === null) return null;
      return store(await generation(deps.tenantOf(first)));
    },
  };
}

/** What `authenticate` caches: API keys by hash, sessions by id, and the generations that validate them. */
export interface AuthCaches extends GenerationReader {
  apiKeys: TenantCache<ApiKeyRow>;
  sessions: TenantCache<SessionView>;
}

export function createAuthCaches(opts: CacheOptions): AuthCaches {
  return {
    ...createGenerationReader(opts),
    apiKeys: createTenantCache<ApiKeyRow>({ ...opts, tenantOf: (k) => k.tenant_id }),
    sessions: createTenantCache<SessionView>({ ...opts, tenantOf: (s) => s.tenant_id }),
  };
}
