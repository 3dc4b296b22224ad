import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProducer } from '../shared/queue/producer.ts';
import { createRedis } from '../shared/redis/redis.ts';
import { present } from '../shared/testing/present.ts';
import { createTestEnv, type TestEnv } from '../shared/testing/test-env.ts';
import { exited, spawnService } from './spawn-process.ts';

/**
 * Promise 1 through a deploy: the worker process gets SIGTERM in the middle of a render. It stops
 * taking new jobs, finishes the one it holds, and exits 0; a job queued behind it is left for the
 * next worker, untouched.
 */
let env: TestEnv;
beforeAll(async () => {
  env = await createTestEnv({ WORKER_QUEUES: 'render', WORKER_CONCURRENCY: '1' });
});
afterAll(async () => {
  await env.cleanup();
});

describe('chaos: a deploy stops a worker mid-render', () => {
  it('when SIGTERM arrives during a render, then the render finishes, the process exits 0 and queued jobs wait', async () => {
    const worker = spawnService(['workers/main.ts'], env.vars);
    const connection = createRedis(env.config.REDIS_URL);
    const producer = createProducer(connection, env.config.REDIS_PREFIX);
    try {
      await env.db('tenants').insert({ id: 'ten_deploy', name: 'Deploy', webhook_secret: 'whsec_x' });
      const payload = {
        scenes: [{ title: 'Drain me', duration: 6 }],
        resolution: '720p',
        fps: 24,
        voice: 'en',
        metadata: {},
      };
      for (const id of ['job_deploy1', 'job_deploy2']) {
        await env
          .db('jobs')
          .insert({ id, tenant_id: 'ten_deploy', kind: 'render', payload: JSON.stringify(payload) });
        await producer.enqueueJob({ id, tenant_id: 'ten_deploy', kind: 'render' });
      }
      const deadline = Date.now() + 60_000;
      while (
        !(await env
          .db('job_steps')
          .where({ job_id: 'job_deploy1', name: 'compose', status: 'running' })
          .first())
      ) {
        if (Date.now() > deadline) throw new Error('the render never reached compose');
        await new Promise((r) => setTimeout(r, 50));
      }
      process.kill(worker.pid!, 'SIGTERM');
      expect(await exited(worker, 60_000)).toBe(0);

      const [first, second] = await Promise.all(
        ['job_deploy1', 'job_deploy2'].map((id) => env.db('jobs').where({ id }).first()),
      );
      expect(present(first).status).toBe('succeeded');
      expect(present(second).status).toBe('queued');
      expect(await (await producer.queue('render').getJob('job_deploy2'))?.getState()).toBe('waiting');
    } finally {
      if (worker.exitCode === null && worker.signalCode === null) process.kill(-worker.pid!, 'SIGKILL');
      await producer.close();
      connection.disconnect();
    }
  });
});
