import type { Request, RequestHandler } from 'express';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { hashSecret } from '../../shared/crypto/tokens.ts';
import { RateLimitedError, UnavailableError } from '../../shared/errors/http-errors.ts';
import type { RedisClient } from '../../shared/redis/redis.ts';

/**
 * Limits shared by every API replica: counters live in Redis (rate-limiter-flexible).
 * When Redis cannot answer, limited routes answer 503 rather than run unmetered.
 */
export interface RateLimits {
  /** per tenant-user or API key: sustained per minute and burst per second */
  api: RequestHandler;
  /** magic-link sends: per address and per client IP, 15-minute windows */
  magicLink(email: string, ip: string): Promise<void>;
}

async function consume(limiter: RateLimiterRedis, key: string): Promise<void> {
  try {
    await limiter.consume(key);
  } catch (err) {
    if (err instanceof RateLimiterRes) throw new RateLimitedError(err.msBeforeNext / 1000);
    throw new UnavailableError('Rate limiter unavailable');
  }
}

export function createRateLimits(
  redis: RedisClient,
  opts: {
    prefix: string;
    perMinute: number;
    burstPerSecond: number;
    magicPerEmail: number;
    magicPerIp: number;
  },
): RateLimits {
  const make = (name: string, points: number, duration: number) =>
    new RateLimiterRedis({ storeClient: redis, keyPrefix: `${opts.prefix}:rl:${name}`, points, duration });
  const perMinute = make('api-min', opts.perMinute, 60);
  const burst = make('api-sec', opts.burstPerSecond, 1);
  const perEmail = make('ml-email', opts.magicPerEmail, 15 * 60);
  const perIp = make('ml-ip', opts.magicPerIp, 15 * 60);

  const principalKey = (req: Request) => {
    const p = req.principal;
    return p ? (p.apiKeyId ?? `${p.tenantId}:${p.userId}`) : `ip:${req.ip}`;
  };

  return {
    api: async (req, _res, next) => {
      const key = principalKey(req);
      await consume(burst, key);
      await consume(perMinute, key);
      next();
    },
    async magicLink(email, ip) {
      await consume(perIp, ip);
      // Keys hold a hash, not the address: Redis is not a place for PII.
      await consume(perEmail, hashSecret(email));
    },
  };
}
