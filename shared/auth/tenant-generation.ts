import { randomBytes } from 'node:crypto';
import type { Logger } from '../logging/logger.ts';
import type { RedisClient } from '../redis/redis.ts';

/**
 * The version of a tenant's authorization state (its API keys, sessions, memberships and roles,
 * plan and default webhook endpoint), kept in Redis so every API replica sees a change at once.
 *
 * API replicas cache what they read from Postgres for a request (auth-cache.ts) next to the
 * generation they read *before* that read. Every request reads the current generation (one GET)
 * and uses a cached entry only when it is unchanged. Whoever changes that state bumps the
 * generation after its transaction commits and before it answers, so the very next request, on
 * any replica, reads from Postgres again.
 *
 * A bump writes a fresh random token, never a counter: a Redis that restarted and lost the key
 * (or a key that expired) reads as null, which differs from every token handed out before, so a
 * lost key can only cause misses, never a stale hit. The key outlives every cache entry
 * (GENERATION_TTL_S ≫ the cache's TTL), so an entry cached while the key was null is gone before
 * a bumped key could expire back to null.
 */
export interface TenantGenerations {
  /** The tenant's current generation; null when it was never bumped (or Redis forgot it). */
  read(tenantId: string): Promise<string | null>;
  /**
   * Invalidates every replica's cached state of these tenants. Call after commit. Never throws:
   * the change is committed, and a Redis that cannot take the bump cannot serve the generation
   * to readers either (they then read Postgres); in a partition the cache's TTL bounds the delay.
   */
  bump(tenantIds: Iterable<string>): Promise<void>;
}

export const GENERATION_TTL_S = 24 * 3600;

/** `{tenantId}` is the hash tag: on a Redis Cluster the key shares its slot with the tenant's event stream. */
export const generationKey = (redisPrefix: string, tenantId: string) =>
  `${redisPrefix}:authgen:{${tenantId}}`;

export function createTenantGenerations(
  redis: RedisClient,
  redisPrefix: string,
  logger: Pick<Logger, 'error'>,
): TenantGenerations {
  return {
    read: (tenantId) => redis.get(generationKey(redisPrefix, tenantId)),
    async bump(tenantIds) {
      const ids = [...new Set(tenantIds)];
      // One SET per tenant, sent together (a cluster spreads them over their slots).
      await Promise.all(
        ids.map((id) =>
          redis
            .set(
              generationKey(redisPrefix, id),
              randomBytes(12).toString('base64url'),
              'EX',
              GENERATION_TTL_S,
            )
            .catch((err: unknown) =>
              logger.error(
                { err, tenant_id: id },
                'auth cache: generation bump failed; other replicas may serve the old state until their cache TTL',
              ),
            ),
        ),
      );
    },
  };
}
