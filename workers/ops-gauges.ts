import type { Knex } from 'knex';
import { METRICS } from '../shared/jobs/estimate.ts';
import type { Logger } from '../shared/logging/logger.ts';
import { counterPeriod } from '../shared/metering/periods.ts';
import type { PlanCatalogue } from '../shared/metering/plans.ts';
import type { Metrics } from '../shared/metrics/metrics.ts';
import type { Producer } from '../shared/queue/producer.ts';
import type { QueueName } from '../shared/queue/queues.ts';
import type { RedisClient } from '../shared/redis/redis.ts';

/** Fractions of a plan limit reported by rendermill_tenants_over_quota_ratio. */
export const QUOTA_THRESHOLDS = [0.8, 1] as const;

export interface OpsGaugeDeps {
  db: Knex;
  redis: RedisClient;
  producer: Producer;
  queues: QueueName[];
  plans: PlanCatalogue;
  metrics: Metrics;
  logger: Logger;
}

/**
 * Gauges read from the datastores rather than counted in code: queue depth (autoscaling),
 * Redis memory against maxmemory, the usage-alert mail outbox and tenants near their quota.
 * Every worker refreshes them, so dashboards and alerts take `max` across workers.
 */
export async function refreshOpsGauges(deps: OpsGaugeDeps): Promise<void> {
  const { metrics } = deps;
  await Promise.all([
    ...deps.queues.map(async (q) => {
      const counts = await deps.producer
        .queue(q)
        .getJobCounts('waiting', 'active', 'delayed', 'failed', 'prioritized');
      for (const [state, n] of Object.entries(counts)) metrics.queueDepth.set({ queue: q, state }, n);
    }),
    (async () => {
      const info = await deps.redis.info('memory');
      const field = (name: string) => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(info)?.[1] ?? 0);
      metrics.redisMemoryUsed.set(field('used_memory'));
      metrics.redisMaxMemory.set(field('maxmemory'));
    })(),
    (async () => {
      const row = (await deps
        .db('usage_alerts')
        .whereNull('sent_at')
        .first(
          deps.db.raw('count(*)::int AS n'),
          deps.db.raw('COALESCE(EXTRACT(EPOCH FROM now() - min(created_at)), 0)::float8 AS age'),
        )) as { n: number; age: number } | undefined;
      metrics.mailOutboxPending.set(row?.n ?? 0);
      metrics.mailOutboxOldest.set(Math.max(0, row?.age ?? 0));
    })(),
    refreshTenantsOverQuota(deps),
  ]);
}

async function refreshTenantsOverQuota(deps: OpsGaugeDeps): Promise<void> {
  const now = new Date();
  const periods = [...new Set(METRICS.map((m) => counterPeriod(m, now)))];
  const rows = (await deps
    .db('usage_counters as c')
    .join('tenants as t', 't.id', 'c.tenant_id')
    .whereIn('c.period_start', periods)
    .where('c.used', '>', 0)
    .select('c.metric', 'c.used', 't.plan')) as Array<{
    metric: (typeof METRICS)[number];
    used: number;
    plan: string;
  }>;
  // Each metric's counter lives on one period (storage on a fixed one), so these rows are
  // exactly this period's use.
  const counts = new Map<string, number>();
  for (const r of rows) {
    const limit = deps.plans.get(r.plan).limits[r.metric];
    if (!limit) continue;
    for (const t of QUOTA_THRESHOLDS) {
      if (r.used >= limit * t) counts.set(`${r.metric}|${t}`, (counts.get(`${r.metric}|${t}`) ?? 0) + 1);
    }
  }
  for (const metric of METRICS) {
    for (const t of QUOTA_THRESHOLDS) {
      deps.metrics.tenantsOverQuota.set({ metric, threshold: String(t) }, counts.get(`${metric}|${t}`) ?? 0);
    }
  }
}

/** Refreshes the gauges every `everyMs` (default 5 s) in the background; returns a stop function. */
export function startOpsGauges(deps: OpsGaugeDeps, everyMs = 5_000): () => void {
  let running = false;
  const tick = () => {
    if (running) return;
    running = true;
    refreshOpsGauges(deps)
      .catch((err: unknown) => deps.logger.debug({ err }, 'ops gauges not refreshed'))
      .finally(() => {
        running = false;
      });
  };
  tick();
  const timer = setInterval(tick, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
