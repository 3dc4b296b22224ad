import { Job, UnrecoverableError, Worker } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bullPrefix } from '../../../shared/queue/queues.ts';
import { createRedis } from '../../../shared/redis/redis.ts';
import { present } from '../../../shared/testing/present.ts';
import { startTestWorker, type TestWorker } from '../../testing/worker-harness.ts';

let t: TestWorker;
beforeAll(async () => {
  // This worker runs renders but takes no segments: the test's own consumer below does.
  t = await startTestWorker({ RENDER_FANOUT_MIN_SCENES: '2', WORKER_QUEUES: 'render' });
});
afterAll(async () => {
  await t.close();
});

describe('render fan-out when children fail', () => {
  it('when every segment child fails for good, then the render resumes, encodes the scenes itself and succeeds, billed once', async () => {
    const connection = createRedis(t.env.config.redisTarget);
    const failed: string[] = [];
    const breaker = new Worker(
      'segments',
      async (job) => {
        failed.push(job.id!);
        throw new UnrecoverableError('this segments worker is broken');
      },
      { connection, prefix: bullPrefix(t.env.config.REDIS_PREFIX) },
    );
    try {
      const tenant = await t.tenant();
      const id = await t.submit(tenant, 'render', {
        scenes: [
          { title: 'One', duration: 1 },
          { title: 'Two', duration: 1 },
          { title: 'Three', duration: 1 },
        ],
        resolution: '720p',
      });
      const job = await t.waitFor(id, ['succeeded', 'failed'], 90_000);
      expect([job.status, job.error_message]).toEqual(['succeeded', null]);
      expect(failed.sort()).toEqual([`${id}.segment-01`, `${id}.segment-02`, `${id}.segment-03`]);
      const parent = (await Job.fromId(t.producer.queue('render'), id))!;
      expect(Object.keys(await parent.getIgnoredChildrenFailures())).toHaveLength(3);
      const segments = await t.env.db('job_steps').where({ job_id: id }).where('name', 'like', 'segment-%');
      expect(segments.map((s) => [s.name, s.status, s.cache_hit]).sort()).toEqual([
        ['segment-01', 'succeeded', false],
        ['segment-02', 'succeeded', false],
        ['segment-03', 'succeeded', false],
      ]);
      const usage = await t.env.db('usage_events').where({ job_id: id, metric: 'render_seconds' });
      expect(usage).toHaveLength(1);
      expect(present(usage[0]).quantity).toBeCloseTo(3, 1);
    } finally {
      await breaker.close();
      connection.disconnect();
    }
  });
});
