import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi } from '../api/testing/api-harness.ts';
import { start as startWorker, type WorkerProcess } from '../workers/main.ts';

/**
 * Promise 1 when Redis forgets: a job is accepted (202), then the Redis database is flushed
 * before any worker saw it. The reconciler must find the job Postgres holds as queued and that
 * BullMQ no longer knows, enqueue it again, and a worker must finish it.
 * This file owns Redis db 9 (nothing else in the suite uses it), so FLUSHDB is safe here.
 */
const REDIS_URL = 'redis://127.0.0.1:6379/9';

let t: TestApi;
let worker: WorkerProcess | undefined;
beforeAll(async () => {
  t = await startTestApi({
    REDIS_URL,
    SCHEDULER_ENABLED: 'true',
    RECONCILE_INTERVAL_SECONDS: '1',
    RECONCILE_QUIET_SECONDS: '0',
  });
});
afterAll(async () => {
  await worker?.stop();
  await t.close();
});

describe('chaos: Redis loses its data after a 202', () => {
  it('when the queue is flushed, then the reconciler re-enqueues the job and it completes', async () => {
    const s = await t.signIn('flush@example.com');
    const r = await t.call('POST', '/v1/renders', {
      token: s.access_token,
      body: { scenes: [{ title: 'Survives a flush', duration: 1 }], resolution: '720p', fps: 24 },
    });
    expect(r.status).toBe(202);
    const id = r.body.id as string;

    const redis = new Redis(REDIS_URL);
    await redis.flushdb();
    redis.disconnect();

    worker = await startWorker(t.env.config);
    let job: Record<string, unknown> = {};
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      job = (await t.call('GET', `/v1/jobs/${id}`, { token: s.access_token })).body;
      if (['succeeded', 'failed', 'canceled'].includes(String(job.status))) break;
      await new Promise((res) => setTimeout(res, 200));
    }
    expect(job.status).toBe('succeeded');
    const metrics = await (await fetch(worker.metricsUrl)).text();
    const reenqueued = /rendermill_reconciler_enqueued_total\{[^}]*\} (\d+)/.exec(metrics);
    expect(Number(reenqueued?.[1])).toBeGreaterThanOrEqual(1);
  });
});
