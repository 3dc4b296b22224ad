import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SignIn, startTestApi, type TestApi } from '../api/testing/api-harness.ts';
import { present } from '../shared/testing/present.ts';
import { start as startWorker, type WorkerProcess } from '../workers/main.ts';
import { sweepExpiredOutputs } from '../workers/tasks/maintenance/sweep-outputs-task.ts';

/**
 * The API and a worker together on one database: reservations made at submit are settled or
 * released by the worker, the free plan's one-render-at-a-time limit makes renders wait (not
 * fail), and expired outputs give their storage back.
 */
let t: TestApi;
let worker: WorkerProcess;
let s: SignIn;
beforeAll(async () => {
  t = await startTestApi({
    WORKER_CONCURRENCY: '3',
    RATE_LIMIT_BURST_PER_SECOND: '1000',
    RATE_LIMIT_PER_MINUTE: '100000',
  });
  worker = await startWorker(t.env.config);
  s = await t.signIn('meter@example.com');
});
afterAll(async () => {
  await worker.stop();
  await t.close();
});

async function submit(body: unknown): Promise<string> {
  const r = await t.call('POST', '/v1/renders', { token: s.access_token, body });
  expect(r.status, r.text).toBe(202);
  return r.body.id as string;
}

async function finished(id: string, onPoll?: () => Promise<void>): Promise<Record<string, unknown>> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const j = (await t.call('GET', `/v1/jobs/${id}`, { token: s.access_token })).body;
    if (['succeeded', 'failed', 'canceled'].includes(String(j.status))) return j;
    if (Date.now() > deadline) throw new Error(`job ${id} still ${String(j.status)}`);
    await onPoll?.();
    await new Promise((r) => setTimeout(r, 50));
  }
}

type Usage = { metrics: Record<string, { used: number; reserved: number }> };
const usage = async () => (await t.call<Usage>('GET', '/v1/usage', { token: s.access_token })).body.metrics;

describe('metering across API and worker', () => {
  it('when renders succeed and fail, then reservations are settled or released and used equals the ledger', async () => {
    const ok = await submit({ scenes: [{ text: 'Settle me.', title: 'A' }, { duration: 1 }], fps: 24 });
    const bad = await submit({ scenes: [{ text: 'No such voice.' }], voice: 'zz-none' });
    expect((await finished(ok)).status).toBe('succeeded');
    expect((await finished(bad)).status).toBe('failed');
    // queue priority comes from the plan (free: 10)
    expect(present(await t.env.db('jobs').where({ id: ok }).first()).priority).toBe(10);

    const m = await usage();
    for (const metric of ['render_seconds', 'tts_seconds', 'images'] as const) {
      expect(m[metric]!.reserved, metric).toBeCloseTo(0, 6);
      const ledger = await t.env
        .db('usage_events')
        .where({ tenant_id: s.tenant.id, metric })
        .sum({ q: 'quantity' })
        .first();
      expect(m[metric]!.used, metric).toBeCloseTo(Number(ledger?.q ?? 0), 6);
    }
    expect(m.images!.used).toBe(2);
  });

  it('when two renders are submitted on the free plan, then only one runs at a time and both finish', async () => {
    const a = await submit({ scenes: [{ title: 'one', duration: 3 }], fps: 24 });
    const b = await submit({ scenes: [{ title: 'two', duration: 3 }], fps: 24 });
    let maxRunning = 0;
    const sample = async () => {
      const running = await t.env
        .db('jobs')
        .whereIn('id', [a, b])
        .where({ status: 'running' })
        .count({ n: '*' })
        .first();
      maxRunning = Math.max(maxRunning, Number(running?.n ?? 0));
    };
    const [ja, jb] = await Promise.all([finished(a, sample), finished(b, sample)]);
    expect([ja.status, jb.status]).toEqual(['succeeded', 'succeeded']);
    expect(maxRunning).toBe(1);
  });

  it('when an output expires and is swept, then the tenant’s stored bytes fall by its size', async () => {
    const id = await submit({ scenes: [{ title: 'keep', duration: 1 }], fps: 24 });
    const job = await finished(id);
    const before = (await usage()).storage_bytes!.used;
    await t.env
      .db('jobs')
      .update({ output_expires_at: new Date(Date.now() - 1000) })
      .where({ id });
    await sweepExpiredOutputs(worker.services);
    const after = (await usage()).storage_bytes!.used;
    expect(before - after).toBe((job.output as { bytes: number }).bytes);
    expect((await t.call('GET', `/v1/jobs/${id}`, { token: s.access_token })).body.output).toBeNull();
  });
});
