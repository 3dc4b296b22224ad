import { UnrecoverableError, Worker } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi } from '../api/testing/api-harness.ts';
import { bullPrefix, QUEUES } from '../shared/queue/queues.ts';
import { createRedis } from '../shared/redis/redis.ts';
import { present } from '../shared/testing/present.ts';
import { start as startWorker, type WorkerProcess } from '../workers/main.ts';
import { reconcileJobs } from '../workers/tasks/maintenance/reconcile-task.ts';

/**
 * The reconciler's re-enqueue counter is its own (`jobs.reenqueues`), not a key of the client's
 * metadata: a client that sends `__reenqueues` gets it back as sent, and its job is still re-added
 * when BullMQ fails it (stalled past maxStalledCount), up to the cap of 3, then failed as lost.
 */
let t: TestApi;
let worker: WorkerProcess;
let connection: ReturnType<typeof createRedis>;
let breaker: Worker;
beforeAll(async () => {
  // Fair share off: the job goes straight to BullMQ, where the bare worker below fails it.
  t = await startTestApi({ FAIR_SHARE: 'false', RECONCILE_QUIET_SECONDS: '0' });
  // The real worker, consuming only maintenance: the media job is left to the bare worker.
  worker = await startWorker(t.env.configWith({ FAIR_SHARE: 'false', WORKER_QUEUES: 'maintenance' }));
  connection = createRedis(t.env.config.REDIS_URL);
  // Fails every media job in BullMQ without touching Postgres: what a job stalled too often looks like.
  breaker = new Worker(
    QUEUES.media,
    async (): Promise<unknown> => {
      throw new UnrecoverableError('stalled too often');
    },
    { connection, prefix: bullPrefix(t.env.config.REDIS_PREFIX) },
  );
});
afterAll(async () => {
  await breaker?.close();
  connection?.disconnect();
  await worker?.stop();
  await t.close();
});

describe('the reconciler and client metadata', () => {
  it('when a client sends metadata.__reenqueues = 99, then it comes back as sent, and the reconciler re-adds its failed job up to the cap', async () => {
    const s = await t.signIn('reenqueue@example.com');
    const metadata = { __reenqueues: 99, order: 'A-1' };
    const submitted = await t.call('POST', '/v1/images', {
      token: s.access_token,
      body: { title: 'Counted apart', metadata },
    });
    expect(submitted.status).toBe(202);
    const id = submitted.body.id as string;
    const media = worker.services.producer.queue(QUEUES.media);
    const bullState = async () => (await media.getJob(id))?.getState();

    for (let round = 1; round <= 3; round++) {
      await expect.poll(bullState, { timeout: 15_000 }).toBe('failed');
      expect(await reconcileJobs(worker.services)).toEqual({ reenqueued: 1, failed: 0 });
      const row = present(await t.env.db('jobs').where({ id }).first());
      expect(row).toMatchObject({ status: 'queued', reenqueues: round });
      expect(row.metadata).toEqual(metadata);
      const view = await t.call('GET', `/v1/jobs/${id}`, { token: s.access_token });
      expect(view.body.metadata).toEqual(metadata);
    }

    // The fourth failure is past the cap: the job ends as lost, its metadata still the client's.
    await expect.poll(bullState, { timeout: 15_000 }).toBe('failed');
    expect(await reconcileJobs(worker.services)).toEqual({ reenqueued: 0, failed: 1 });
    const view = await t.call('GET', `/v1/jobs/${id}`, { token: s.access_token });
    expect(view.body).toMatchObject({ status: 'failed', metadata });
    expect((view.body.error as { code: string }).code).toBe('lost');
  });
});
