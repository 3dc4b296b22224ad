import type { Knex } from 'knex';
import { z } from 'zod/v4';
import { TimeoutError, withTimeout } from '../../../shared/async/with-timeout.ts';
import { UnavailableError } from '../../../shared/errors/http-errors.ts';
import type { HostMetrics } from '../../../shared/metrics/host-metrics.ts';
import type { RedisClient } from '../../../shared/redis/redis.ts';
import { defineOperation, type Operation } from '../../http/operation.ts';

const READY_CHECK_MS = 750;

const readiness = z.object({
  status: z.enum(['ok', 'unavailable']),
  checks: z.object({ postgres: z.enum(['ok', 'down']), redis: z.enum(['ok', 'down']) }),
});

/** Liveness, readiness (Postgres and Redis answer; 503 within 1 s otherwise) and Prometheus metrics. */
export function opsRoutes(deps: { db: Knex; redis: RedisClient; metrics: HostMetrics }): Operation[] {
  const common = { method: 'get', tag: 'ops', auth: 'public' } as const;
  return [
    defineOperation({
      ...common,
      operationId: 'getHealth',
      path: '/healthz',
      summary: 'Liveness: the process is up',
      responses: { 200: { description: 'Up', body: z.object({ status: z.literal('ok') }) } },
      handler: (_input, _req, res) => {
        res.json({ status: 'ok' });
      },
    }),
    defineOperation({
      ...common,
      operationId: 'getReadiness',
      path: '/readyz',
      summary: 'Readiness: Postgres and Redis answer (503 within 1 s otherwise)',
      responses: {
        200: { description: 'Ready', body: readiness },
        503: {
          description: 'Not ready; see Retry-After',
          body: readiness,
          headers: { 'Retry-After': 'seconds' },
        },
      },
      handler: async (_input, _req, res) => {
        // 750 ms per check, run together: the answer (503 included) leaves within the promised 1 s
        // with room for the event loop and the HTTP round trip.
        const [pg, redis] = await Promise.allSettled([
          withTimeout(deps.db.raw('select 1'), READY_CHECK_MS, 'postgres readiness check'),
          withTimeout(deps.redis.ping(), READY_CHECK_MS, 'redis readiness check'),
        ]);
        const checks = {
          postgres: pg.status === 'fulfilled' ? 'ok' : 'down',
          redis: redis.status === 'fulfilled' ? 'ok' : 'down',
        };
        const ok = checks.postgres === 'ok' && checks.redis === 'ok';
        if (!ok) res.setHeader('Retry-After', '5');
        res.status(ok ? 200 : 503).json({ status: ok ? 'ok' : 'unavailable', checks });
      },
    }),
    defineOperation({
      ...common,
      operationId: 'getMetrics',
      path: '/metrics',
      summary: 'Prometheus metrics (text exposition format); with API_PROCESSES > 1, summed over the host',
      responses: { 200: { description: 'Metrics', contentType: 'text/plain', body: z.string() } },
      // 503: the other API processes of the host did not all answer within 3 s.
      errors: [503],
      handler: async (_input, _req, res) => {
        const text = await deps.metrics.text().catch((err: unknown) => {
          // A partial sum would read as counters going down: fail this scrape instead.
          if (err instanceof TimeoutError) throw new UnavailableError(err.message);
          throw err;
        });
        res.type(deps.metrics.contentType).send(text);
      },
    }),
  ];
}
