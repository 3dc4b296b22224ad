import { readFile, rm as remove, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SignIn, startTestApi, type TestApi } from '../../api/testing/api-harness.ts';
import { freePort } from '../../chaos/spawn-api.ts';
import { start as startWorker, type WorkerProcess } from '../../workers/main.ts';
import {
  AuthenticationError,
  ConflictError,
  JobCanceledError,
  JobFailedError,
  NotFoundError,
  QuotaExceededError,
  RateLimitedError,
  Rendermill,
  ValidationError,
  WebhookVerificationError,
} from '../src/index.ts';

/** The SDK against the real platform: the API and a worker in this process, real Postgres and Redis. */
const PLANS = {
  free: {
    limits: { render_seconds: 120, tts_seconds: 600, images: 100, storage_bytes: null },
    max_resolution: '1080p',
    overage: false,
    max_concurrent_renders: 1,
  },
};
let t: TestApi;
let worker: WorkerProcess;
let s: SignIn;
let rm: Rendermill;
let plansFile: string;
beforeAll(async () => {
  plansFile = path.join(os.tmpdir(), `plans-sdk-${process.pid}.json`);
  await writeFile(plansFile, JSON.stringify(PLANS));
  const port = await freePort();
  t = await startTestApi({
    PORT: String(port),
    // Download links point at PUBLIC_URL: here, this very API.
    PUBLIC_URL: `http://127.0.0.1:${port}`,
    PLANS_FILE: plansFile,
    RATE_LIMIT_BURST_PER_SECOND: '1000',
    RATE_LIMIT_PER_MINUTE: '100000',
    EVENTS_PROGRESS_INTERVAL_MS: '0',
  });
  worker = await startWorker(t.env.config);
  s = await t.signIn('sdk@example.com');
  rm = new Rendermill({ accessToken: s.access_token, baseUrl: t.api.url });
});
afterAll(async () => {
  await worker?.stop();
  await t?.close();
  await remove(plansFile, { force: true }).catch(() => undefined);
});

const small = {
  scenes: [
    { text: 'From the SDK.', title: 'SDK' },
    { title: 'Two', duration: 1 },
  ],
  fps: 24 as const,
};

describe('renders and jobs', () => {
  it('when a render is created and awaited, then progress is reported in order and the MP4 downloads', async () => {
    const seen: number[] = [];
    const steps = new Set<string>();
    const job = await rm.renders.create(small).wait({
      onProgress: (p, info) => {
        seen.push(p);
        if (info.step) steps.add(info.step);
      },
      timeoutMs: 60_000,
    });
    expect(job.status).toBe('succeeded');
    expect(seen.length).toBeGreaterThan(1);
    expect([...seen].sort((a, b) => a - b)).toEqual(seen);
    expect(seen.at(-1)).toBe(1);
    expect([...steps]).toEqual(expect.arrayContaining(['tts', 'images', 'compose']));

    const to = path.join(t.env.dir, 'sdk.mp4');
    const file = await rm.jobs.download(job.id, { to });
    expect(file.contentType).toBe('video/mp4');
    const bytes = await readFile(to);
    expect(file.bytes).toBe(bytes.length);
    expect(bytes.subarray(4, 8).toString('latin1')).toBe('ftyp');
  });

  it('when the same idempotency key is sent twice, then the second answers the same job as a replay', async () => {
    const a = await rm.tts.create({ text: 'Once.' }, { idempotencyKey: 'sdk-once' });
    const b = await rm.tts.create({ text: 'Once.' }, { idempotencyKey: 'sdk-once' });
    expect(b.id).toBe(a.id);
    expect([a.replayed, b.replayed]).toEqual([false, true]);
    // without a key every POST still carries one: two creates are two jobs
    const c = await rm.images.create({ title: 'x' });
    const d = await rm.images.create({ title: 'x' });
    expect(c.id).not.toBe(d.id);
    await Promise.all([a.wait(), c.wait(), d.wait()]);
  });

  it('when jobs are listed with a small page, then the async iterator walks every page', async () => {
    const all: string[] = [];
    for await (const j of rm.jobs.list({ limit: 1 })) all.push(j.id);
    const page = await rm.jobs.list({ limit: 100 }).page();
    expect(all).toEqual(page.data.map((j) => j.id));
    expect(all.length).toBeGreaterThanOrEqual(4);
  });

  it('when a job fails, then wait() throws JobFailedError with the final job', async () => {
    const err = await rm.renders
      .create({ scenes: [{ text: 'No such voice.' }], voice: 'zz-none' })
      .wait()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(JobFailedError);
    expect((err as JobFailedError).job.error?.code).toBe('bad_input');
  });

  it('when a queued job is canceled, then the answer is the canceled job and a second cancel is a ConflictError', async () => {
    // The plan runs one render at a time: while `busy` runs, `waiting` stays queued.
    const busy = await rm.renders.create({ scenes: [{ title: 'busy', duration: 40 }], fps: 24 });
    while ((await rm.jobs.get(busy.id)).status === 'queued') await new Promise((r) => setTimeout(r, 100));
    const waiting = await rm.renders.create({ scenes: [{ title: 'waiting', duration: 1 }], fps: 24 });
    const canceled = await rm.jobs.cancel(waiting.id);
    expect(canceled.status).toBe('canceled');
    expect(await waiting.wait().catch((e: unknown) => e)).toBeInstanceOf(JobCanceledError);
    expect(await rm.jobs.cancel(waiting.id).catch((e: unknown) => e)).toBeInstanceOf(ConflictError);
    expect((await busy.wait()).status).toBe('succeeded');
  });
});

describe('typed errors', () => {
  it('when the body is invalid, then ValidationError names the paths and carries the request id', async () => {
    const err = (await rm.renders
      .create({ scenes: [{ text: '' }], resolution: '999p' as '720p' })
      .catch((e) => e)) as ValidationError;
    expect(err).toBeInstanceOf(ValidationError);
    expect(err.paths).toContain('/resolution');
    expect(err.requestId).toMatch(/.+/);
  });

  it('when a job does not exist or the key is wrong, then NotFoundError and AuthenticationError', async () => {
    expect(await rm.jobs.get('job_nope').catch((e) => e)).toBeInstanceOf(NotFoundError);
    const anon = new Rendermill({ apiKey: 'rm_wrong', baseUrl: t.api.url });
    expect(await anon.usage.get().catch((e) => e)).toBeInstanceOf(AuthenticationError);
  });

  it('when a render needs more than the plan has left, then QuotaExceededError carries the numbers', async () => {
    const err = (await rm.renders
      .create({ scenes: [{ title: 'long', duration: 600 }] })
      .catch((e) => e)) as QuotaExceededError;
    expect(err).toBeInstanceOf(QuotaExceededError);
    expect(err.metric).toBe('render_seconds');
    expect(err.limit).toBe(120);
    expect(err.requested).toBeGreaterThan(120);
    expect(Date.parse(err.resetsAt)).toBeGreaterThan(Date.now());
    expect(err.requestId).toBeTruthy();
  });
});

describe('usage, keys, events', () => {
  it('when usage is read, then the counters and the ledger answer', async () => {
    const u = await rm.usage.get();
    expect(u.plan).toBe('free');
    expect(u.metrics.render_seconds?.used).toBeGreaterThan(0);
    const events = await rm.usage.events({ limit: 5 }).page();
    expect(events.data.length).toBeGreaterThan(0);
  });

  it('when an API key is created, rotated and deleted, then each key works until it is replaced', async () => {
    const created = await rm.apiKeys.create({ name: 'sdk test', role: 'viewer' });
    const viaKey = new Rendermill({ apiKey: created.key, baseUrl: t.api.url });
    expect((await viaKey.usage.get()).plan).toBe('free');
    expect((await rm.apiKeys.list()).data.map((k) => k.id)).toContain(created.id);
    const rotated = await rm.apiKeys.rotate(created.id);
    expect(await viaKey.usage.get().catch((e) => e)).toBeInstanceOf(AuthenticationError);
    const viaNew = new Rendermill({ apiKey: rotated.key, baseUrl: t.api.url });
    expect((await viaNew.usage.get()).plan).toBe('free');
    await rm.apiKeys.delete(rotated.id);
    expect(await viaNew.usage.get().catch((e) => e)).toBeInstanceOf(AuthenticationError);
  });

  it('when the stream is followed from an earlier id, then it yields typed events of that job in order', async () => {
    const h = await rm.images.create({ title: 'streamed' });
    await h.wait();
    const types: string[] = [];
    const stop = new AbortController();
    for await (const e of rm.events.stream({ since: '0-0', jobId: h.id, signal: stop.signal })) {
      types.push(e.type);
      expect(e.streamId).toMatch(/^\d+-\d+$/);
      if (e.type === 'job.succeeded') {
        expect(e.data.job.id).toBe(h.id);
        break;
      }
    }
    expect(types[0]).toBe('job.queued');
    expect(types).toContain('job.step.succeeded');
  });
});

describe('webhook signatures', () => {
  const secret = `whsec_${Buffer.from('a 24-byte test secret!!!').toString('base64')}`;
  const payload = { id: 'evt_1', type: 'webhook.test', created_at: new Date().toISOString(), data: {} };

  it('when testHeaders signs a payload, then verify and the standardwebhooks library both accept it', async () => {
    const body = JSON.stringify(payload);
    const headers = await rm.webhooks.testHeaders({ payload: body, secret });
    expect((await rm.webhooks.verify(body, headers, secret)).type).toBe('webhook.test');
    expect(new Webhook(secret).verify(body, headers)).toEqual(payload);
    // and verify accepts what the library signs
    const wh = new Webhook(secret);
    const ts = new Date();
    const signature = wh.sign('msg_2', ts, body);
    const libHeaders = {
      'webhook-id': 'msg_2',
      'webhook-timestamp': String(Math.floor(ts.getTime() / 1000)),
      'webhook-signature': signature,
    };
    expect((await rm.webhooks.verify(body, libHeaders, secret)).id).toBe('evt_1');
  });

  it('when the body, secret or timestamp is off, then verify throws WebhookVerificationError', async () => {
    const body = JSON.stringify(payload);
    const headers = await rm.webhooks.testHeaders({ payload: body, secret });
    const other = `whsec_${Buffer.from('another secret of 24 b!!').toString('base64')}`;
    await expect(rm.webhooks.verify(`${body} `, headers, secret)).rejects.toBeInstanceOf(
      WebhookVerificationError,
    );
    await expect(rm.webhooks.verify(body, headers, other)).rejects.toBeInstanceOf(WebhookVerificationError);
    // during a rotation both secrets are tried
    expect((await rm.webhooks.verify(body, headers, [other, secret])).id).toBe('evt_1');
    const old = await rm.webhooks.testHeaders({
      payload: body,
      secret,
      timestamp: Math.floor(Date.now() / 1000) - 3600,
    });
    await expect(rm.webhooks.verify(body, old, secret)).rejects.toBeInstanceOf(WebhookVerificationError);
  });
});

describe('retries', () => {
  /** A real HTTP server answering a scripted sequence of statuses, counting requests. */
  async function scripted(answers: Array<{ status: number; headers?: Record<string, string> }>) {
    const keys: Array<string | undefined> = [];
    const server = http.createServer((req, res) => {
      keys.push(req.headers['idempotency-key'] as string | undefined);
      const a = answers[Math.min(keys.length - 1, answers.length - 1)]!;
      res.writeHead(a.status, {
        'content-type': 'application/json',
        'x-request-id': `req_${keys.length}`,
        ...a.headers,
      });
      res.end(
        JSON.stringify(a.status < 400 ? { ok: true } : { status: a.status, code: 'x', detail: 'scripted' }),
      );
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return { url, keys, close: () => new Promise<void>((r) => server.close(() => r())) };
  }

  it('when the server answers 503 then 429 with Retry-After, then the SDK retries with the same idempotency key', async () => {
    const srv = await scripted([
      { status: 503 },
      { status: 429, headers: { 'retry-after': '0' } },
      { status: 200 },
    ]);
    const c = new Rendermill({ apiKey: 'k', baseUrl: srv.url });
    expect(await c.http.json('POST', '/x', { body: {} })).toEqual({ ok: true });
    expect(srv.keys).toHaveLength(3);
    expect(new Set(srv.keys).size).toBe(1);
    expect(srv.keys[0]).toMatch(/^[0-9a-f-]{36}$/);
    await srv.close();
  });

  it('when the server answers a 4xx, then nothing is retried; when 429 persists, then RateLimitedError after the bounded retries', async () => {
    const bad = await scripted([{ status: 400 }]);
    const c = new Rendermill({ apiKey: 'k', baseUrl: bad.url });
    expect(await c.http.json('POST', '/x', { body: {} }).catch((e) => e)).toBeInstanceOf(ValidationError);
    expect(bad.keys).toHaveLength(1);
    await bad.close();
    const busy = await scripted([{ status: 429, headers: { 'retry-after': '0' } }]);
    const d = new Rendermill({ apiKey: 'k', baseUrl: busy.url, maxRetries: 2 });
    const err = (await d.http.json('GET', '/x').catch((e) => e)) as RateLimitedError;
    expect(err).toBeInstanceOf(RateLimitedError);
    expect(err.requestId).toBe('req_3');
    expect(busy.keys).toHaveLength(3);
    await busy.close();
  });
});

describe('account, notifications and support', () => {
  it('when the workspace is renamed, a deletion scheduled and canceled, then the feed holds both and reads and read-all mark them', async () => {
    const other = await t.signIn('sdk-account@example.com');
    const own = new Rendermill({ accessToken: other.access_token, baseUrl: t.api.url });
    expect(await own.account.get()).toEqual({
      id: other.tenant.id,
      name: other.tenant.name,
      deletion_scheduled_for: null,
      last_backup_at: null,
    });
    expect((await own.account.rename('SDK studio')).name).toBe('SDK studio');
    expect((await own.notifications.list()).unread_count).toBe(0);

    const scheduled = await own.account.scheduleDeletion();
    expect((await own.account.get()).deletion_scheduled_for).toBe(scheduled.scheduled_for);
    expect(await own.account.cancelDeletion()).toEqual({ canceled: true, job_id: scheduled.job_id });

    const feed = await own.notifications.list({ unread: 'true' });
    expect(feed.unread_count).toBe(2);
    expect(feed.data.map((n) => n.type)).toEqual(['deletion.canceled', 'deletion.scheduled']);
    const read = await own.notifications.read(feed.data[0]!.id);
    expect(read.read_at).not.toBeNull();
    expect(await own.notifications.readAll()).toEqual({ updated: 1 });
    expect((await own.notifications.list()).unread_count).toBe(0);
    // Another user's notification id reads as absent.
    expect(await rm.notifications.read(feed.data[1]!.id).catch((e: unknown) => e)).toBeInstanceOf(
      NotFoundError,
    );
  });

  it('when a ticket is filed, then list and get answer it, and a job of another workspace is refused by path', async () => {
    const ticket = await rm.support.create({ subject: 'From the SDK', message: 'Hello.' });
    expect(ticket).toMatchObject({
      subject: 'From the SDK',
      requester_email: 'sdk@example.com',
      job_id: null,
    });
    expect((await rm.support.list()).data.map((x) => x.id)).toContain(ticket.id);
    expect((await rm.support.get(ticket.id)).id).toBe(ticket.id);
    const err = await rm.support
      .create({ subject: 'x', message: 'y', job_id: 'job_nope' })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).paths).toContain('/job_id');
  });
});
