import { createHmac } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventStreamKey, readEventsAfter } from '../../shared/events/event-stream.ts';
import { createRedis, type RedisClient } from '../../shared/redis/redis.ts';
import { present } from '../../shared/testing/present.ts';
import { processesFor } from '../../shared/testing/processes.ts';
import { startTestWorker, type TestWorker } from '../testing/worker-harness.ts';

/** A local HTTP server whose behaviour each test scripts. */
async function server(handler: http.RequestListener): Promise<{ url: string; close(): Promise<void> }> {
  const s = http.createServer(handler);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(s.address() as AddressInfo).port}`,
    close: () => {
      s.closeAllConnections();
      return new Promise((r) => s.close(() => r()));
    },
  };
}

const PNG_1x1 = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==',
  'base64',
);

const ffmpegFor = (jobId: string) => processesFor('ffmpeg', jobId);

let t: TestWorker;
let redis: RedisClient;
beforeAll(async () => {
  t = await startTestWorker({
    STEP_TIMEOUT_SECONDS: '1',
    FETCH_ALLOW_PRIVATE: '127.0.0.1',
    WORKER_CONCURRENCY: '3',
  });
  redis = createRedis(t.env.config.redisTarget);
});
afterAll(async () => {
  redis?.disconnect();
  await t?.close();
});

describe('deadlines, retries and resume', () => {
  it('when a step hangs, then it is killed at its deadline, retried, and finally fails with step_timeout', async () => {
    const hang = await server(() => undefined); // never answers
    try {
      const tenant = await t.tenant();
      const id = await t.submit(tenant, 'render', {
        scenes: [{ image_url: `${hang.url}/slow.png`, duration: 1 }],
      });
      const job = await t.waitFor(id, ['failed', 'succeeded'], 30_000);
      expect(job.status).toBe('failed');
      expect(job.error_code).toBe('step_timeout');
      expect(job.error_message).toContain('images');
      expect(job.attempts).toBe(3);
      const step = await t.env.db('job_steps').where({ job_id: id, name: 'images' }).first();
      expect(step).toMatchObject({ status: 'failed', attempt: 3 });
    } finally {
      await hang.close();
    }
  });

  it('when a later step fails once, then the retry resumes after the finished steps without redoing or re-billing them, and announces job.started and each step it runs once per attempt', async () => {
    let calls = 0;
    const flaky = await server((_req, res) => {
      calls++;
      if (calls === 1) {
        res.writeHead(503).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'image/png' }).end(PNG_1x1);
    });
    try {
      const tenant = await t.tenant();
      const id = await t.submit(tenant, 'render', {
        scenes: [{ text: 'Resume me after a failure.' }, { image_url: `${flaky.url}/a.png`, duration: 1 }],
        resolution: '720p',
      });
      const job = await t.waitFor(id, ['failed', 'succeeded'], 60_000);
      expect(job.status).toBe('succeeded');
      expect(job.attempts).toBe(2);
      const steps = await t.env.db('job_steps').where({ job_id: id }).orderBy(['position', 'name']);
      expect(steps.map((s) => [s.name, s.attempt])).toEqual([
        ['tts', 1], // finished in attempt 1, not redone
        ['images', 2],
        ['compose', 2],
        ['segment-01', 2],
        ['segment-02', 2],
      ]);
      const tts = await t.env.db('usage_events').where({ job_id: id, metric: 'tts_seconds' });
      expect(tts).toHaveLength(1);
      const stream = await readEventsAfter(redis, eventStreamKey(t.env.config.REDIS_PREFIX, tenant), '0-0');
      const started = stream.filter((e) => e.jobId === id && e.event.type === 'job.started');
      expect(started.map((e) => e.event.data.attempt)).toEqual([1, 2]);
      // tts finished in attempt 1 and is not started again; images failed and starts again.
      const stepsStarted = stream
        .filter((e) => e.jobId === id && e.event.type === 'job.step.started')
        .map((e) => {
          const step = e.event.data.step as { name: string; attempt: number };
          return `${step.name} ${step.attempt}`;
        });
      expect(stepsStarted).toEqual(['tts 1', 'images 1', 'images 2', 'compose 2']);
    } finally {
      await flaky.close();
    }
  });

  it('when image_url points at a private or link-local address, then the job fails as unsafe_url without retry', async () => {
    const tenant = await t.tenant();
    for (const url of [
      'http://169.254.169.254/latest/meta-data',
      'http://10.1.2.3/a.png',
      'http://192.168.0.1/x.png',
    ]) {
      const id = await t.submit(tenant, 'render', { scenes: [{ image_url: url, duration: 1 }] });
      const job = await t.waitFor(id, ['failed', 'succeeded']);
      expect(job).toMatchObject({ status: 'failed', error_code: 'unsafe_url', attempts: 1 });
    }
  });

  it('when an image_url answers with a non-image, then the job fails with a clear code and no retry', async () => {
    const html = await server((_req, res) =>
      res.writeHead(200, { 'content-type': 'text/html' }).end('<html>'),
    );
    try {
      const tenant = await t.tenant();
      const id = await t.submit(tenant, 'render', { scenes: [{ image_url: `${html.url}/x`, duration: 1 }] });
      const job = await t.waitFor(id, ['failed', 'succeeded']);
      expect(job).toMatchObject({ status: 'failed', error_code: 'fetch_refused', attempts: 1 });
    } finally {
      await html.close();
    }
  });
});

describe('cancellation', () => {
  it('when a running render is canceled, then it ends canceled within 2 s and no ffmpeg is left', async () => {
    const tenant = await t.tenant();
    // Long silent scenes: each still is encoded once, but the scenes' audio takes a while to encode.
    const id = await t.submit(tenant, 'render', {
      scenes: [
        { title: 'Long', duration: 600 },
        { title: 'Longer', duration: 600 },
      ],
      // 720p: the cards must be drawn within this file's 1 s step deadline, even on a loaded machine.
      resolution: '720p',
    });
    // Waiting for the encode to start is not what is measured: on a loaded machine it can take a while.
    await expect
      .poll(
        async () => {
          const step = await t.env
            .db('job_steps')
            .where({ job_id: id, name: 'compose', status: 'running' })
            .first();
          if (step && ffmpegFor(id).length > 0) return 'encoding';
          const job = await t.env.db('jobs').where({ id }).first();
          const steps = await t.env.db('job_steps').where({ job_id: id }).select('name', 'status', 'error');
          return `compose never started: ${job?.status} ${job?.error_message} ${JSON.stringify(steps)}`;
        },
        { timeout: 45_000, interval: 50 },
      )
      .toBe('encoding');
    const canceledAt = Date.now();
    await t.env.db('jobs').update({ cancel_requested_at: new Date() }).where({ id });
    const job = await t.waitFor(id, ['canceled', 'failed', 'succeeded'], 5_000);
    expect(job.status).toBe('canceled');
    expect(Date.now() - canceledAt).toBeLessThan(2_000);
    // The step runner kills the process group on cancel; the kernel reaps it within moments.
    await expect.poll(() => ffmpegFor(id), { timeout: 200, interval: 20 }).toEqual([]);
  }, 90_000);
});

describe('client callbacks', () => {
  it('when the receiver fails twice, then the signed event is retried until it is delivered', async () => {
    const received: Array<{ body: string; signature: string }> = [];
    let hits = 0;
    const receiver = await server((req, res) => {
      let body = '';
      req.on('data', (c) => {
        body += c;
      });
      req.on('end', () => {
        hits++;
        received.push({ body, signature: String(req.headers['rendermill-signature']) });
        res.writeHead(hits <= 2 ? 500 : 204).end();
      });
    });
    try {
      const tenant = await t.tenant();
      const id = await t.submit(tenant, 'image', {
        title: 'cb',
        width: 64,
        height: 64,
        callback_url: `${receiver.url}/hook`,
      });
      await t.waitFor(id, ['succeeded']);
      await expect
        .poll(async () => (await t.env.db('webhook_deliveries').where({ job_id: id }).first())?.status, {
          timeout: 20_000,
          interval: 100,
        })
        .toBe('delivered');
      const delivery = await t.env.db('webhook_deliveries').where({ job_id: id }).first();
      expect(delivery).toMatchObject({ status: 'delivered', attempts: 3, event: 'job.succeeded' });
      expect(hits).toBe(3);
      const { webhook_secret } = present(await t.env.db('tenants').where({ id: tenant }).first());
      const last = received[2]!;
      const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(last.signature);
      expect(m).not.toBeNull();
      const expected = createHmac('sha256', present(webhook_secret))
        .update(`${m![1]}.${last.body}`)
        .digest('hex');
      expect(m![2]).toBe(expected);
      const event = JSON.parse(last.body);
      expect(event).toMatchObject({ type: 'job.succeeded', data: { job: { id, status: 'succeeded' } } });
    } finally {
      await receiver.close();
    }
  });
});
