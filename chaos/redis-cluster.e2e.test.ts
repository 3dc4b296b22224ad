import { rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi } from '../api/testing/api-harness.ts';
import { startRedisCluster, type TestRedisCluster } from '../shared/testing/redis-cluster.ts';
import { start as startWorker, type WorkerProcess } from '../workers/main.ts';

/**
 * The whole system on a 3-master Redis Cluster: BullMQ queues (hash-tagged prefix), rate
 * limits, enqueue from the API and the workers all run against the cluster client.
 */
let cluster: TestRedisCluster;
let t: TestApi;
let worker: WorkerProcess;

let plansFile = '';
beforeAll(async () => {
  cluster = await startRedisCluster(3);
  plansFile = path.join(os.tmpdir(), `plans-cluster-${process.pid}.json`);
  // A 10-second render fits ten times into this free plan.
  await writeFile(
    plansFile,
    JSON.stringify({
      free: {
        limits: { render_seconds: 100, tts_seconds: 1000, images: 1000, storage_bytes: null },
        max_resolution: '1080p',
        overage: false,
      },
    }),
  );
  t = await startTestApi({
    REDIS_URL: cluster.url,
    PLANS_FILE: plansFile,
    RATE_LIMIT_PER_MINUTE: '100000',
    RATE_LIMIT_BURST_PER_SECOND: '10000',
  });
  worker = await startWorker(t.env.config);
}, 90_000);
afterAll(async () => {
  await rm(plansFile, { force: true });
  await worker?.stop();
  await t?.close();
  await cluster?.close();
});

describe('on a Redis Cluster', () => {
  it('when a render is submitted, then it runs end to end through the cluster', async () => {
    const ready = Date.now() + 15_000;
    while ((await t.call('GET', '/readyz')).status !== 200) {
      if (Date.now() > ready) throw new Error('API not ready on the cluster');
      await new Promise((res) => setTimeout(res, 200));
    }
    const s = await t.signIn('cluster@example.com');
    const r = await t.call('POST', '/v1/renders', {
      token: s.access_token,
      body: { scenes: [{ text: 'Sharded.', title: 'Cluster' }], fps: 24 },
    });
    expect(r.status, r.text).toBe(202);
    const deadline = Date.now() + 90_000;
    let job: Record<string, unknown> = {};
    while (!['succeeded', 'failed'].includes(String(job.status))) {
      if (Date.now() > deadline) throw new Error(`render still ${String(job.status)}`);
      await new Promise((res) => setTimeout(res, 100));
      job = (await t.call('GET', `/v1/jobs/${String(r.body.id)}`, { token: s.access_token })).body;
    }
    expect(job.status, JSON.stringify(job)).toBe('succeeded');
    // The queue keys really live on the cluster, all in the hash-tagged slot.
    // (BullMQ marks it completed just after the handler's final Postgres write.)
    const queue = worker.services.producer.queue('render');
    const until = Date.now() + 10_000;
    while ((await queue.getJobCounts('completed')).completed !== 1 && Date.now() < until) {
      await new Promise((res) => setTimeout(res, 100));
    }
    expect((await queue.getJobCounts('completed')).completed).toBe(1);
  });

  it('when 50 renders are submitted at once against a quota that fits 10, then exactly 10 are accepted', async () => {
    const s = await t.signIn('racer@cluster.example.com');
    const answers = await Promise.all(
      Array.from({ length: 50 }, () =>
        t.call('POST', '/v1/renders', {
          token: s.access_token,
          body: { scenes: [{ duration: 10, title: 'Card' }], resolution: '720p' },
        }),
      ),
    );
    expect(answers.filter((a) => a.status === 202)).toHaveLength(10);
    expect(answers.filter((a) => a.status === 402)).toHaveLength(40);
    expect(await t.env.db('jobs').where({ tenant_id: s.tenant.id }).count({ n: '*' })).toEqual([{ n: 10 }]);
    // Every accepted job is queued on the cluster: on its tenant's fair-share list or in BullMQ.
    const { producer } = t.api.deps;
    for (const a of answers.filter((x) => x.status === 202)) {
      const id = String(a.body.id);
      const held = (await producer.fair?.holds('render', id)) || (await producer.queue('render').getJob(id));
      expect(Boolean(held), id).toBe(true);
    }
  });
});
