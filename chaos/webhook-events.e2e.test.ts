import { rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SignIn, startTestApi, type TestApi } from '../api/testing/api-harness.ts';
import { readFixture } from '../shared/testing/fixtures.ts';
import {
  type ReceivedRequest,
  startWebhookReceiver,
  type WebhookReceiver,
} from '../shared/testing/webhook-receiver.ts';
import { ENDPOINT_EVENT_TYPES } from '../shared/webhooks/deliveries.ts';
import { start as startWorker, type WorkerProcess } from '../workers/main.ts';
import { createCatalog } from '../workers/registry.ts';

/**
 * Every event type of the stream can reach the default endpoint: a render's queued, started,
 * step and progress events when the endpoint names them, the final ones, a failed and a canceled
 * job, an export's and a deletion's job events, and a usage alert — each signed the Standard
 * Webhooks way, one delivery per event.
 */
type Received = ReceivedRequest & {
  event: { id: string; type: string; data: { job?: { id: string; kind: string } } };
};
let t: TestApi;
let worker: WorkerProcess;
let s: SignIn;
let secret: string;
let receiver: WebhookReceiver;
let base: string;

let plansFile = '';
beforeAll(async () => {
  // /missing.png is a scene image that is not there: the render fails without retrying.
  receiver = await startWebhookReceiver((r) =>
    r.path === '/missing.png' ? { status: 404, record: false } : { status: 200 },
  );
  base = receiver.url;
  // A small image quota: eight title cards pass 80 % of it.
  plansFile = path.join(os.tmpdir(), `plans-webhook-events-${process.pid}.json`);
  await writeFile(
    plansFile,
    JSON.stringify({
      free: {
        limits: { render_seconds: 600, tts_seconds: 600, images: 10, storage_bytes: null },
        max_resolution: '1080p',
        overage: false,
      },
    }),
  );
  t = await startTestApi({
    FETCH_ALLOW_PRIVATE: '127.0.0.1',
    PLANS_FILE: plansFile,
    EVENTS_PROGRESS_INTERVAL_MS: '0',
    JOB_BACKOFF_SCALE: '0.001',
    ACCOUNT_DELETION_GRACE_SECONDS: '3600',
    RATE_LIMIT_BURST_PER_SECOND: '1000',
    RATE_LIMIT_PER_MINUTE: '100000',
  });
  worker = await startWorker(t.env.config);
  s = await t.signIn('every-event@example.com');
  secret = ((await call('GET', '/v1/webhook-secret')).body as { secret: string }).secret;
});
afterAll(async () => {
  await rm(plansFile, { force: true });
  await worker?.stop();
  await t?.close();
  await receiver?.close();
});

const call = (method: string, p: string, body?: unknown) =>
  t.call(method, p, { token: s.access_token, body });
/** What arrived so far, each with its parsed body. */
const received = (): Received[] => receiver.received.map((r) => ({ ...r, event: JSON.parse(r.body) }));
const ofJob = (jobId: string) => received().filter((r) => r.event.data.job?.id === jobId);
const typesOf = (jobId: string) => ofJob(jobId).map((r) => r.event.type);
async function arrived(jobId: string, type: string): Promise<void> {
  try {
    await expect.poll(() => typesOf(jobId).includes(type), { timeout: 50_000 }).toBe(true);
  } catch (err) {
    const job = await call('GET', `/v1/jobs/${jobId}`);
    const log = await call('GET', `/v1/webhook-deliveries?job_id=${jobId}&limit=100`);
    throw new Error(
      `no ${type} for ${jobId}: got ${typesOf(jobId).join(',')}; job ${job.text.slice(0, 300)}; log ${log.text.slice(0, 600)}`,
      { cause: err },
    );
  }
}
function verifyAll(list: Received[], key = secret): void {
  const wh = new Webhook(key);
  for (const r of list) {
    const headers = {
      'webhook-id': String(r.headers['webhook-id']),
      'webhook-timestamp': String(r.headers['webhook-timestamp']),
      'webhook-signature': String(r.headers['webhook-signature']),
    };
    expect(wh.verify(r.body, headers)).toMatchObject({ id: headers['webhook-id'], type: r.event.type });
  }
}

describe('webhooks for every event type', () => {
  it('when the endpoint takes only the defaults, then a render delivers its final event and none of its running ones', async () => {
    expect((await call('PUT', '/v1/webhook-endpoint', { url: `${base}/defaults` })).status).toBe(200);
    const job = (await call('POST', '/v1/images', { title: 'defaults' })).body as { id: string };
    await arrived(job.id, 'job.succeeded');
    // Running events are recorded before the final one: the log is complete once it is delivered.
    const log = (await call('GET', `/v1/webhook-deliveries?job_id=${job.id}`)).body as {
      data: Array<{ event: string }>;
    };
    expect(log.data.map((d) => d.event)).toEqual(['job.succeeded']);
    expect(typesOf(job.id)).toEqual(['job.succeeded']);
  });

  it('when the endpoint names every type, then a render delivers queued, started, each step, progress and succeeded, each signed once', async () => {
    const put = await call('PUT', '/v1/webhook-endpoint', {
      url: `${base}/all`,
      events: [...ENDPOINT_EVENT_TYPES],
    });
    expect(put.status, put.text).toBe(200);
    const submitted = await call('POST', '/v1/renders', readFixture('render-short'));
    expect(submitted.status, submitted.text).toBe(202);
    const job = submitted.body as { id: string };
    await arrived(job.id, 'job.succeeded');
    // Every delivery is recorded before the final one: the log is complete, and each arrives.
    const log = (await call('GET', `/v1/webhook-deliveries?job_id=${job.id}&limit=100`)).body as {
      data: Array<{ event: string; event_id: string }>;
    };
    await expect.poll(() => ofJob(job.id).length, { timeout: 30_000 }).toBe(log.data.length);
    expect(new Set(ofJob(job.id).map((r) => r.event.id))).toEqual(new Set(log.data.map((d) => d.event_id)));
    const types = typesOf(job.id);
    for (const type of [
      'job.queued',
      'job.started',
      'job.step.started',
      'job.step.succeeded',
      'job.progress',
    ]) {
      expect(types, type).toContain(type);
    }
    expect(types.filter((x) => x === 'job.succeeded')).toHaveLength(1);
    const stepNames = (type: string) =>
      ofJob(job.id)
        .filter((r) => r.event.type === type)
        .map((r) => (r.event.data as { step?: { name: string } }).step?.name)
        .sort();
    expect(stepNames('job.step.succeeded')).toEqual(stepNames('job.step.started'));
    expect(stepNames('job.step.succeeded')).toEqual(expect.arrayContaining(['compose', 'images', 'tts']));
    const ids = ofJob(job.id).map((r) => r.headers['webhook-id']);
    expect(new Set(ids).size).toBe(ids.length);
    verifyAll(ofJob(job.id));
  });

  it('when a tenant passes 80 % of a limit, then its endpoint gets usage.threshold_reached', async () => {
    const other = await t.signIn('every-event-usage@example.com');
    const as = (method: string, p: string, body?: unknown) =>
      t.call(method, p, { token: other.access_token, body });
    expect((await as('PUT', '/v1/webhook-endpoint', { url: `${base}/usage` })).status).toBe(200);
    for (let i = 0; i < 8; i++)
      expect((await as('POST', '/v1/images', { title: `card ${i}` })).status).toBe(202);
    await expect
      .poll(
        async () => {
          const page = (await as('GET', '/v1/jobs?limit=100')).body as { data: Array<{ status: string }> };
          return page.data.filter((j) => j.status === 'succeeded').length;
        },
        { timeout: 60_000 },
      )
      .toBe(8);
    // usage.alert runs every minute; run it now, as the scheduler would.
    const usageAlert = createCatalog().get('usage.alert')!;
    await usageAlert.run(worker.services, undefined as never, {});
    const alert = (r: Received) => r.path === '/usage' && r.event.type === 'usage.threshold_reached';
    await expect.poll(() => received().some(alert), { timeout: 30_000 }).toBe(true);
    expect(received().find(alert)?.event.data).toMatchObject({ usage: { metric: 'images' } });
    const { secret: theirs } = (await as('GET', '/v1/webhook-secret')).body as { secret: string };
    verifyAll(received().filter(alert), theirs);
  });

  it('when jobs fail or are canceled, and exports and deletions run, then their job events reach the endpoint too', async () => {
    const failing = { scenes: [{ title: 'no image', duration: 2, image_url: `${base}/missing.png` }] };
    const submitted = await call('POST', '/v1/renders', failing);
    expect(submitted.status, submitted.text).toBe(202);
    const failed = submitted.body as { id: string };
    await arrived(failed.id, 'job.failed');

    // Long enough to be stopped while it runs (the worker sees the request within 2 s).
    const long = await call('POST', '/v1/renders', { scenes: [{ title: 'long', duration: 90 }] });
    expect(long.status, long.text).toBe(202);
    const canceled = long.body as { id: string };
    await arrived(canceled.id, 'job.started');
    expect((await call('POST', `/v1/jobs/${canceled.id}/cancel`)).status).toBe(202);
    await arrived(canceled.id, 'job.canceled');

    const exported = (await call('POST', '/v1/account/export')).body as { id: string };
    expect(exported.id).toBeTruthy();
    await arrived(exported.id, 'job.succeeded');
    expect(typesOf(exported.id)).toEqual(expect.arrayContaining(['job.queued', 'job.started']));
    expect(ofJob(exported.id)[0]?.event.data.job?.kind).toBe('export');

    const scheduled = (await call('POST', '/v1/account/delete')).body as { job_id: string };
    await arrived(scheduled.job_id, 'job.queued');
    expect((await call('POST', '/v1/account/delete/cancel')).status).toBe(200);
    await arrived(scheduled.job_id, 'job.canceled');
    expect(ofJob(scheduled.job_id)[0]?.event.data.job?.kind).toBe('deletion');

    verifyAll([failed.id, canceled.id, exported.id, scheduled.job_id].flatMap(ofJob));
  });
});
