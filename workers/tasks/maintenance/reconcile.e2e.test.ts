import { Worker } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTenantGenerations } from '../../../shared/auth/tenant-generation.ts';
import { createEventWriter } from '../../../shared/events/event-stream.ts';
import { createLogger } from '../../../shared/logging/logger.ts';
import { createMailer } from '../../../shared/mail/mailer.ts';
import { createMetrics } from '../../../shared/metrics/metrics.ts';
import { createProducer } from '../../../shared/queue/producer.ts';
import { bullPrefix } from '../../../shared/queue/queues.ts';
import { createRedis } from '../../../shared/redis/redis.ts';
import { createLocalStorage } from '../../../shared/storage/local-storage.ts';
import { createTestEnv, type TestEnv } from '../../../shared/testing/test-env.ts';
import type { WorkerServices } from '../../jobs/services.ts';
import { reconcileJobs } from './reconcile-task.ts';

/** The reconciler against real Postgres and BullMQ, with no worker consuming: what it adds stays visible. */
let env: TestEnv;
let services: WorkerServices;
let connection: ReturnType<typeof createRedis>;
beforeAll(async () => {
  env = await createTestEnv({ RECONCILE_QUIET_SECONDS: '0' });
  connection = createRedis(env.config.REDIS_URL);
  const logger = createLogger('silent', 'test');
  services = {
    config: env.config,
    db: env.db,
    logger,
    mailer: createMailer({ from: 'x@y.z', outboxDir: `${env.dir}/outbox`, logger }),
    storage: createLocalStorage(env.config.STORAGE_DIR),
    producer: createProducer(connection, env.config.REDIS_PREFIX),
    metrics: createMetrics('worker'),
    events: createEventWriter({ redis: connection, redisPrefix: env.config.REDIS_PREFIX, logger }),
    generations: createTenantGenerations(connection, env.config.REDIS_PREFIX, logger),
  };
  await env.db('tenants').insert({ id: 'ten_rec', name: 'R' });
});
afterAll(async () => {
  await services.producer.close();
  connection.disconnect();
  await env.cleanup();
});

describe('jobs.reconcile', () => {
  it('when Postgres holds a queued render that BullMQ does not know, then it is enqueued again with its priority', async () => {
    await env
      .db('jobs')
      .insert({ id: 'job_rec1', tenant_id: 'ten_rec', kind: 'render', payload: '{}', priority: 10 });
    const r = await reconcileJobs(services);
    expect(r.reenqueued).toBe(1);
    const job = await services.producer.queue('render').getJob('job_rec1');
    expect(await job?.getState()).toBe('prioritized');
    expect(job?.opts.priority).toBe(10);
    // a second pass finds it queued in BullMQ and leaves it alone
    expect((await reconcileJobs(services)).reenqueued).toBe(0);
  });

  it('when a pending account deletion was lost, then it is re-added delayed until its scheduled time, not at once', async () => {
    const scheduledFor = new Date(Date.now() + 3600_000);
    await env.db('jobs').insert({
      id: 'job_rec2',
      tenant_id: 'ten_rec',
      kind: 'deletion',
      payload: JSON.stringify({ requested_by: 'usr_x', scheduled_for: scheduledFor.toISOString() }),
    });
    await reconcileJobs(services);
    const job = await services.producer.queue('account').getJob('job_rec2');
    expect(await job?.getState()).toBe('delayed');
    expect(Math.abs(job!.timestamp + job!.delay - scheduledFor.getTime())).toBeLessThan(5_000);
  });

  it('when BullMQ completed a job that Postgres still holds as running, then it is failed visibly as lost', async () => {
    await env
      .db('jobs')
      .insert({ id: 'job_rec3', tenant_id: 'ten_rec', kind: 'image', status: 'running', payload: '{}' });
    const queue = services.producer.queue('media');
    await queue.add('image.run', { jobId: 'job_rec3', tenantId: 'ten_rec' }, { jobId: 'job_rec3' });
    // A bare BullMQ worker completes it without touching Postgres: the lost final write.
    const w = new Worker('media', async () => 'ok', {
      connection,
      prefix: bullPrefix(env.config.REDIS_PREFIX),
    });
    await new Promise((r) => w.on('completed', r));
    await w.close();
    expect(await (await queue.getJob('job_rec3'))?.getState()).toBe('completed');
    const r = await reconcileJobs(services);
    expect(r.failed).toBe(1);
    const row = await env.db('jobs').where({ id: 'job_rec3' }).first();
    expect(row).toMatchObject({ status: 'failed', error_code: 'lost' });
  });
});
