import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deleteKeys } from '../../../shared/testing/test-env.ts';
import { startTestWorker, type TestWorker } from '../../testing/worker-harness.ts';
import { reconcileJobs } from './reconcile-task.ts';

/**
 * Fair share keeps queued renders on their tenants' lists in Redis. Those lists are not the
 * truth: when Redis loses them, the reconciler rebuilds them from Postgres, once, and a job that
 * is simply waiting its turn is never mistaken for a lost one.
 */
let t: TestWorker;
beforeAll(async () => {
  // Consumes only maintenance: the renders stay queued, visible on the fair lists.
  t = await startTestWorker({
    FAIR_SHARE: 'true',
    WORKER_QUEUES: 'maintenance',
    RECONCILE_QUIET_SECONDS: '0',
  });
});
afterAll(async () => {
  await t.close();
});

describe('fair share and the reconciler', () => {
  it('when Redis loses the fair-share lists, then the reconciler puts every queued job back, and leaves waiting ones alone', async () => {
    const fair = t.producer.fair!;
    const a = await t.tenant();
    const b = await t.tenant();
    const ids = [
      await t.submit(a, 'render', { scenes: [{ title: 'A1', duration: 1 }] }),
      await t.submit(a, 'render', { scenes: [{ title: 'A2', duration: 1 }] }),
      await t.submit(b, 'image', { title: 'B1' }),
    ];
    expect(await fair.waiting('render')).toEqual({ [a]: 2 });
    expect(await fair.holds('media', ids[2]!)).toBe(true);

    // Waiting their turn is not lost: nothing to do.
    expect(await reconcileJobs(t.worker.services)).toEqual({ reenqueued: 0, failed: 0 });

    await deleteKeys(t.env.redis, `${t.env.config.REDIS_PREFIX}:{bull}:fair:*`);
    expect(await fair.waiting('render')).toEqual({});
    expect(await reconcileJobs(t.worker.services)).toEqual({ reenqueued: 3, failed: 0 });
    expect(await fair.waiting('render')).toEqual({ [a]: 2 });
    expect(await fair.waiting('media')).toEqual({ [b]: 1 });
    for (const id of ids) expect(await t.producer.queue('render').getJob(id)).toBeUndefined();
    expect(await reconcileJobs(t.worker.services)).toEqual({ reenqueued: 0, failed: 0 });
    // Rebuilt from a loss, not re-added after a failure: nothing counts towards the reconciler's cap.
    const rows = await t.env.db('jobs').whereIn('id', ids).select('status', 'reenqueues');
    expect(rows.every((r) => r.status === 'queued' && r.reenqueues === 0)).toBe(true);
  });
});
