import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../shared/logging/logger.ts';
import { periodKey, STORAGE_PERIOD } from '../shared/metering/periods.ts';
import { loadPlanCatalogue } from '../shared/metering/plans.ts';
import { createMetrics } from '../shared/metrics/metrics.ts';
import { createProducer } from '../shared/queue/producer.ts';
import { createRedis } from '../shared/redis/redis.ts';
import { insertTenant } from '../shared/testing/tenant-fixture.ts';
import { createTestEnv, type TestEnv } from '../shared/testing/test-env.ts';
import { refreshOpsGauges } from './ops-gauges.ts';

let env: TestEnv;
beforeAll(async () => {
  env = await createTestEnv();
});
afterAll(async () => {
  await env.cleanup();
});

const value = async (
  g: { get(): Promise<{ values: Array<{ value: number; labels: object }> }> },
  labels = {},
) => (await g.get()).values.find((v) => JSON.stringify(v.labels) === JSON.stringify(labels))?.value;

describe('ops gauges', () => {
  it('when tenants near their limits and mails wait, then the gauges count them', async () => {
    const plans = loadPlanCatalogue();
    const limit = plans.get('free').limits.render_seconds as number;
    const period = periodKey(new Date());
    const near = await insertTenant(env.db);
    const over = await insertTenant(env.db);
    const far = await insertTenant(env.db);
    const pro = await insertTenant(env.db, { plan: 'enterprise' });
    await env.db('usage_counters').insert([
      { tenant_id: near, period_start: period, metric: 'render_seconds', used: limit * 0.85 },
      { tenant_id: over, period_start: period, metric: 'render_seconds', used: limit * 1.01 },
      { tenant_id: far, period_start: period, metric: 'render_seconds', used: limit * 0.2 },
      { tenant_id: far, period_start: '2020-01-01', metric: 'render_seconds', used: limit * 5 },
      { tenant_id: pro, period_start: period, metric: 'render_seconds', used: limit * 100 },
      { tenant_id: near, period_start: STORAGE_PERIOD, metric: 'storage_bytes', used: 1 },
    ]);
    await env.db('usage_alerts').insert({
      tenant_id: near,
      metric: 'render_seconds',
      period_start: period,
      threshold: 80,
      used: limit * 0.85,
      limit,
      created_at: new Date(Date.now() - 120_000),
    });
    const metrics = createMetrics('worker');
    const redis = createRedis(env.config.REDIS_URL);
    const producer = createProducer(redis, env.config.REDIS_PREFIX);
    try {
      await refreshOpsGauges({
        db: env.db,
        redis,
        producer,
        queues: ['render'],
        plans,
        metrics,
        logger: createLogger('silent', 'test'),
      });
      const g = metrics.tenantsOverQuota;
      expect(await value(g, { metric: 'render_seconds', threshold: '0.8' })).toBe(2);
      expect(await value(g, { metric: 'render_seconds', threshold: '1' })).toBe(1);
      expect(await value(g, { metric: 'storage_bytes', threshold: '0.8' })).toBe(0);
      expect(await value(metrics.mailOutboxPending)).toBe(1);
      expect(await value(metrics.mailOutboxOldest)).toBeGreaterThanOrEqual(119);
      expect(await value(metrics.redisMemoryUsed)).toBeGreaterThan(0);
      expect(await value(metrics.queueDepth, { queue: 'render', state: 'waiting' })).toBe(0);
    } finally {
      await producer.close();
      redis.disconnect();
    }
  });
});
