import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi } from '../api/testing/api-harness.ts';
import { processesFor } from '../shared/testing/processes.ts';
import { start as startWorker, type WorkerProcess } from '../workers/main.ts';

/** Promise 6 through the public API: cancel a render mid-encode; it ends `canceled` within 2 s, ffmpeg gone. */

const ffmpegFor = (jobId: string) => processesFor('ffmpeg', jobId);

let t: TestApi;
let worker: WorkerProcess;
beforeAll(async () => {
  t = await startTestApi();
  worker = await startWorker(t.env.config);
});
afterAll(async () => {
  await worker.stop();
  await t.close();
});

describe('chaos: cancel a running render through the API', () => {
  it('when POST /v1/jobs/:id/cancel hits a render mid-encode, then it is canceled within 2 s with no ffmpeg left and the tenant is told', async () => {
    const s = await t.signIn('cancel@example.com');
    const r = await t.call('POST', '/v1/renders', {
      token: s.access_token,
      // A still is encoded once per scene: many scenes keep the encode busy long enough to cancel it.
      body: {
        scenes: Array.from({ length: 20 }, (_, i) => ({ title: `Scene ${i + 1}`, duration: 30 })),
        resolution: '1080p',
      },
    });
    expect(r.status).toBe(202);
    const id = r.body.id as string;
    await expect
      .poll(() => ffmpegFor(id).length, { timeout: 60_000, interval: 50, message: 'ffmpeg never started' })
      .toBeGreaterThan(0);
    const t0 = Date.now();
    const c = await t.call('POST', `/v1/jobs/${id}/cancel`, { token: s.access_token });
    expect(c.status).toBe(202);
    let job: Record<string, unknown> = {};
    await expect
      .poll(
        async () => {
          job = (await t.call('GET', `/v1/jobs/${id}`, { token: s.access_token })).body;
          return job.status;
        },
        { timeout: 5_000, interval: 50 },
      )
      .toBe('canceled');
    expect(Date.now() - t0).toBeLessThan(2_000);
    // The runner kills the encode's process group on cancel; the kernel reaps it within moments.
    await expect.poll(() => ffmpegFor(id), { timeout: 200, interval: 20 }).toEqual([]);
    expect(job.output).toBeNull();
  });
});
