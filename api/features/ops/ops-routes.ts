import { Router } from 'express';
import type { Redis } from 'ioredis';
import type { Knex } from 'knex';
import type { Registry } from 'prom-client';

const READY_CHECK_MS = 750;

function within<T>(ms: number, p: Promise<T>): Promise<T> {
  return Promise.race([
    p,
    new Promise<T>((_, reject) => setTimeout(() => reject(new Error('timeout')), ms).unref()),
  ]);
}

/** Liveness, readiness (Postgres and Redis answer; 503 within 1 s otherwise) and Prometheus metrics. */
export function opsRoutes(deps: { db: Knex; redis: Redis; registry: Registry }): Router {
  const r = Router();
  r.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  r.get('/readyz', async (_req, res) => {
    // 750 ms per check, run together: the answer (503 included) leaves within the promised 1 s
    // with room for the event loop and the HTTP round trip.
    const [pg, redis] = await Promise.allSettled([
      within(READY_CHECK_MS, deps.db.raw('select 1')),
      within(READY_CHECK_MS, deps.redis.ping()),
    ]);
    const checks = {
      postgres: pg.status === 'fulfilled' ? 'ok' : 'down',
      redis: redis.status === 'fulfilled' ? 'ok' : 'down',
    };
    const ok = checks.postgres === 'ok' && checks.redis === 'ok';
    if (!ok) res.setHeader('Retry-After', '5');
    res.status(ok ? 200 : 503).json({ status: ok ? 'ok' : 'unavailable', checks });
  });
  r.get('/metrics', async (_req, res) => {
    res.type(deps.registry.contentType).send(await deps.registry.metrics());
  });
  return r;
}
