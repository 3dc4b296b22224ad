import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobRow } from '../shared/jobs/job-contract.ts';
import { createProducer } from '../shared/queue/producer.ts';
import { createRedis } from '../shared/redis/redis.ts';
import { present } from '../shared/testing/present.ts';
import { processesFor } from '../shared/testing/processes.ts';
import { createTestEnv, type TestEnv } from '../shared/testing/test-env.ts';
import { start as startWorker, type WorkerProcess } from '../workers/main.ts';
import { exited, spawnService } from './spawn-process.ts';

/**
 * Promise 1 and 2 under a crash: a worker process is SIGKILLed in the middle of a render;
 * another worker must pick the job up (lock expiry → stalled → re-run) and finish it, and the
 * ledger must hold exactly one row per step and metric.
 */

const ffmpegFor = (jobId: string) => processesFor('ffmpeg', jobId);

let env: TestEnv;
let survivor: WorkerProcess | undefined;
beforeAll(async () => {
  env = await createTestEnv({ JOB_BACKOFF_SCALE: '0.01', WORKER_QUEUES: 'render' });
});
afterAll(async () => {
  await survivor?.stop();
  await env.cleanup();
});

describe('chaos: worker SIGKILL mid-render', () => {
  it('when the worker holding a render is killed, then its ffmpeg dies too, another worker finishes the job and usage is counted once', async () => {
    const victim = spawnService(['workers/main.ts'], env.vars);
    const connection = createRedis(env.config.REDIS_URL);
    const producer = createProducer(connection, env.config.REDIS_PREFIX);
    try {
      await env.db('tenants').insert({ id: 'ten_chaos', name: 'Chaos', webhook_secret: 'whsec_x' });
      const payload = {
        scenes: [
          { text: 'The first worker will not live to see this video finished.', title: 'One' },
          { title: 'Two', duration: 20 },
        ],
        resolution: '720p',
        fps: 30,
        voice: 'en',
        metadata: {},
      };
      await env.db('jobs').insert({
        id: 'job_chaos1',
        tenant_id: 'ten_chaos',
        kind: 'render',
        payload: JSON.stringify(payload),
      });
      await producer.enqueueJob({ id: 'job_chaos1', tenant_id: 'ten_chaos', kind: 'render' });

      // Kill it once the render has finished at least one step and is encoding.
      const deadline = Date.now() + 60_000;
      for (;;) {
        const compose = await env
          .db('job_steps')
          .where({ job_id: 'job_chaos1', name: 'compose', status: 'running' })
          .first();
        if (compose) break;
        if (Date.now() > deadline) throw new Error('the victim never reached the compose step');
        await new Promise((r) => setTimeout(r, 50));
      }
      process.kill(-victim.pid!, 'SIGKILL');
      await exited(victim);
      const killedAt = Date.now();
      // Promise 6: the victim's ffmpeg does not outlive it (its watchdog kills the group).
      while (ffmpegFor('job_chaos1').length > 0) {
        if (Date.now() - killedAt > 2_000)
          throw new Error(`orphaned ffmpeg: ${ffmpegFor('job_chaos1').join('; ')}`);
        await new Promise((r) => setTimeout(r, 50));
      }

      survivor = await startWorker(env.config);
      let pickedUpAfter: number | null = null;
      const finishDeadline = Date.now() + 90_000;
      let job: JobRow;
      for (;;) {
        job = present(await env.db('jobs').where({ id: 'job_chaos1' }).first());
        const steps = await env.db('job_steps').where({ job_id: 'job_chaos1', name: 'compose' }).first();
        if (pickedUpAfter === null && steps?.started_at && steps.started_at.getTime() > killedAt) {
          pickedUpAfter = Date.now() - killedAt;
        }
        if (['succeeded', 'failed', 'canceled'].includes(String(job.status))) break;
        if (Date.now() > finishDeadline) throw new Error(`job still ${String(job.status)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(job.status).toBe('succeeded');
      expect(pickedUpAfter).not.toBeNull();
      // ~10 s by the lock/stall settings, plus the survivor's own start-up here.
      expect(pickedUpAfter!).toBeLessThan(12_000);

      const ledger = await env.db('usage_events').where({ job_id: 'job_chaos1' }).select('step', 'metric');
      const keys = ledger.map((r) => `${r.step}/${r.metric}`).sort();
      expect(keys).toEqual([
        'compose/render_seconds',
        'compose/storage_bytes',
        'images/images',
        'tts/tts_seconds',
      ]);
      // The tts step finished before the crash and was not redone.
      const tts = present(await env.db('job_steps').where({ job_id: 'job_chaos1', name: 'tts' }).first());
      expect(present(tts.finished_at).getTime()).toBeLessThan(killedAt);
    } finally {
      if (victim.exitCode === null && victim.signalCode === null) process.kill(-victim.pid!, 'SIGKILL');
      await producer.close();
      connection.disconnect();
    }
  });
});
