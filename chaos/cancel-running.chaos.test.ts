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
    const deadline = Date.now() + 60_000;
    while (ffmpegFor(id).length === 0) {
      if (Date.now() > deadline) throw new Error('ffmpeg never started');
      await new Promise((res) => setTimeout(res, 50));
    }
    const t0 = Date.now();
    const c = await t.call('POST', `/v1/jobs/${id}/cancel`, { token: s.access_token });
    expect(c.status).toBe(202);
    let job: Record<string, unknown> = {};
    while (Date.now() - t0 < 5_000) {
      job = (await t.call('GET', `/v1/jobs/${id}`, { token: s.access_token })).body;
      if (job.status === 'canceled') break;
      await new Promise((res) => setTimeout(res, 50));
    }
    expect(job.status).toBe('canceled');
    expect(Date.now() - t0).toBeLessThan(2_000);
    await new Promise((res) => setTimeout(res, 200));
    expect(ffmpegFor(id)).toEqual([]);
    expect(job.output).toBeNull();
  });
});
