import { readFileSync } from 'node:fs';
import { Job } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobRow } from '../shared/jobs/job-contract.ts';
import { createProducer } from '../shared/queue/producer.ts';
import { createRedis } from '../shared/redis/redis.ts';
import { present } from '../shared/testing/present.ts';
import { processesFor } from '../shared/testing/processes.ts';
import { createTestEnv, type TestEnv } from '../shared/testing/test-env.ts';
import { start as startWorker, type WorkerProcess } from '../workers/main.ts';
import { videoStream } from '../workers/media/media-checks.ts';
import { probeMedia } from '../workers/media/probe.ts';
import { exited, spawnService } from './spawn-process.ts';

/**
 * A fanned-out render whose segment worker is SIGKILLed mid-encode: the render itself waits in
 * another process (waiting-children, no lock to lose); the killed child's lock expires, BullMQ's
 * stall check hands it to a surviving segments worker, segments finished before the crash are not
 * encoded again, and the ledger holds exactly one row per step and metric.
 */

const JOB = 'job_segkill1';

let env: TestEnv;
let parentWorker: WorkerProcess | undefined;
let survivor: WorkerProcess | undefined;
beforeAll(async () => {
  env = await createTestEnv({ JOB_BACKOFF_SCALE: '0.01', RENDER_FANOUT_MIN_SCENES: '2' });
});
afterAll(async () => {
  await survivor?.stop();
  await parentWorker?.stop();
  await env.cleanup();
});

/** Whether the process on a `pgrep -af` line started less than `ms` ago (from /proc, 10 ms ticks). */
function startedWithinMs(ms: number) {
  return (line: string) => {
    try {
      const pid = line.trim().split(' ')[0];
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      // Field 22 (starttime, in clock ticks since boot) comes after the parenthesised command name.
      const startTicks = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
      const uptimeMs = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]) * 1000;
      return uptimeMs - startTicks * 10 < ms;
    } catch {
      return false; // it has already exited
    }
  };
}

describe('chaos: SIGKILL of a segment’s worker', () => {
  it('when the worker encoding a render’s segment is killed, then another worker takes the segment over, finished segments are not redone and usage is counted once', async () => {
    // Only the victim takes segments at first; the render (parent) runs in this process.
    const victim = spawnService(['workers/main.ts'], {
      ...env.vars,
      WORKER_QUEUES: 'segments',
      WORKER_CONCURRENCY: '1',
      METRICS_PORT: '0',
    });
    parentWorker = await startWorker(env.configWith({ WORKER_QUEUES: 'render' }));
    const connection = createRedis(env.config.REDIS_URL);
    const producer = createProducer(connection, env.config.REDIS_PREFIX);
    try {
      await env.db('tenants').insert({ id: 'ten_segkill', name: 'Chaos', webhook_secret: 'whsec_x' });
      const payload = {
        scenes: Array.from({ length: 6 }, (_, i) => ({ title: `Scene ${i + 1}`, duration: 20 })),
        resolution: '1080p',
        fps: 60,
        voice: 'en',
        metadata: {},
      };
      await env
        .db('jobs')
        .insert({ id: JOB, tenant_id: 'ten_segkill', kind: 'render', payload: JSON.stringify(payload) });
      await producer.enqueueJob({ id: JOB, tenant_id: 'ten_segkill', kind: 'render' });

      // Kill the victim once it has finished a segment and is encoding the next.
      const segments = producer.queue('segments');
      const deadline = Date.now() + 90_000;
      let active: Job[] = [];
      for (;;) {
        const done = await env.db('job_steps').where({ job_id: JOB }).where('name', 'like', 'segment-%');
        active = await segments.getActive();
        // Its ffmpeg must have only just started: one seen late in its encode could finish (and
        // write its row) between this check and the kill.
        const encoding = processesFor('ffmpeg', `${JOB}-segment-`);
        if (
          done.length >= 1 &&
          active.length === 1 &&
          encoding.length > 0 &&
          encoding.every(startedWithinMs(300))
        )
          break;
        if (Date.now() > deadline) throw new Error('the victim never encoded a second segment');
        await new Promise((r) => setTimeout(r, 20));
      }
      const killedChild = active[0]!.id!;
      process.kill(-victim.pid!, 'SIGKILL');
      await exited(victim);
      const killedAt = Date.now();
      const before = await env.db('job_steps').where({ job_id: JOB }).where('name', 'like', 'segment-%');
      expect(before.map((s) => `${JOB}.${s.name}`)).not.toContain(killedChild);
      // The victim's ffmpeg does not outlive it (its watchdog kills the group).
      await expect.poll(() => processesFor('ffmpeg', JOB), { timeout: 2_000 }).toEqual([]);

      survivor = await startWorker(env.configWith({ WORKER_QUEUES: 'segments' }));
      let job: JobRow;
      const finishDeadline = Date.now() + 120_000;
      for (;;) {
        job = present(await env.db('jobs').where({ id: JOB }).first());
        if (['succeeded', 'failed', 'canceled'].includes(String(job.status))) break;
        if (Date.now() > finishDeadline) throw new Error(`job still ${String(job.status)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(job.status).toBe('succeeded');

      // The killed child was taken over by the survivor (its segment row was written after the kill),
      // ~10 s by the lock/stall settings plus the survivor's start-up.
      const taken = await Job.fromId(segments, killedChild);
      expect(taken?.returnvalue).toMatchObject({ cacheHit: false });
      const name = killedChild.slice(JOB.length + 1);
      const row = present(await env.db('job_steps').where({ job_id: JOB, name }).first());
      const takenAfter = present(row.started_at).getTime() - killedAt;
      expect(takenAfter).toBeGreaterThan(0);
      expect(takenAfter).toBeLessThan(15_000);
      // Segments finished before the crash were not encoded again: their rows are untouched.
      for (const s of before) {
        const now = present(await env.db('job_steps').where({ job_id: JOB, name: s.name }).first());
        expect(now.finished_at?.getTime()).toBe(s.finished_at?.getTime());
      }
      const all = await env.db('job_steps').where({ job_id: JOB }).where('name', 'like', 'segment-%');
      expect(all).toHaveLength(6);
      expect(all.every((s) => s.status === 'succeeded' && s.cache_hit === false)).toBe(true);

      const ledger = await env.db('usage_events').where({ job_id: JOB }).select('step', 'metric');
      expect(ledger.map((r) => `${r.step}/${r.metric}`).sort()).toEqual([
        'compose/render_seconds',
        'compose/storage_bytes',
        'images/images',
      ]);
      const file = parentWorker.services.storage.localPath(String(job.output_key))!;
      const info = await probeMedia(file);
      expect((await videoStream(file)).nbFrames).toBe(6 * 20 * 60);
      expect(Math.abs(info.durationSeconds - 120)).toBeLessThan(0.05);
    } finally {
      if (victim.exitCode === null && victim.signalCode === null) process.kill(-victim.pid!, 'SIGKILL');
      await producer.close();
      connection.disconnect();
    }
  });
});
