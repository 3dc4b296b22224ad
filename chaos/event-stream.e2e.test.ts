import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SignIn, startTestApi, type TestApi } from '../api/testing/api-harness.ts';
import { createEventWriter } from '../shared/events/event-stream.ts';
import { createLogger } from '../shared/logging/logger.ts';
import { readSse, type SseMessage } from '../shared/testing/sse-reader.ts';
import { start as startWorker, type WorkerProcess } from '../workers/main.ts';
import { type ApiChild, spawnApi } from './spawn-api.ts';

/**
 * The event stream across replicas: two API processes (children) and a worker share Postgres
 * and Redis. A client on replica A sees the events of a job submitted through replica B and run
 * by the worker; a reconnect to B with Last-Event-ID gets exactly the rest; a client that stops
 * reading is ended cleanly and resumes without a gap.
 */
let t: TestApi;
let a: ApiChild;
let b: ApiChild;
let worker: WorkerProcess;
let s: SignIn;
beforeAll(async () => {
  t = await startTestApi({
    RATE_LIMIT_BURST_PER_SECOND: '1000',
    RATE_LIMIT_PER_MINUTE: '100000',
    EVENTS_HEARTBEAT_SECONDS: '0.2',
    EVENTS_MAX_BUFFER_BYTES: '16384',
    EVENTS_PROGRESS_INTERVAL_MS: '0',
  });
  [a, b] = await Promise.all([spawnApi(t.env.vars), spawnApi(t.env.vars)]);
  worker = await startWorker(t.env.config);
  s = await t.signIn('events@example.com');
}, 90_000);
afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  await worker?.stop();
  await t?.close();
});

async function connect(base: string, query = '', lastEventId?: string) {
  const headers: Record<string, string> = { authorization: `Bearer ${s.access_token}` };
  if (lastEventId) headers['last-event-id'] = lastEventId;
  const res = await fetch(`${base}/v1/events${query}`, { headers });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
  return readSse(res.body as ReadableStream<Uint8Array>);
}

async function until(
  stream: ReturnType<typeof readSse>,
  stop: (m: SseMessage) => boolean,
): Promise<SseMessage[]> {
  const got: SseMessage[] = [];
  for (;;) {
    const m = await stream.next();
    if (!m) throw new Error(`stream ended after ${got.length} events`);
    got.push(m);
    if (stop(m)) return got;
  }
}

const isFinal = (m: SseMessage) => ['job.succeeded', 'job.failed', 'job.canceled'].includes(m.event ?? '');

describe('GET /v1/events across two API replicas', () => {
  it('when a render runs, then a client on the other replica sees every state change in order, and a reconnect with Last-Event-ID gets exactly the rest', async () => {
    const onA = await connect(a.url);
    const r = await fetch(`${b.url}/v1/renders`, {
      method: 'POST',
      headers: { authorization: `Bearer ${s.access_token}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        scenes: [
          { text: 'Hello events.', title: 'One' },
          { title: 'Two', duration: 1 },
        ],
        fps: 24,
      }),
    });
    expect(r.status).toBe(202);
    const jobId = ((await r.json()) as { id: string }).id;

    const seen = await until(onA, isFinal);
    await onA.cancel();
    const types = seen.map((m) => m.event);
    expect(types[0]).toBe('job.queued');
    expect(types).toContain('job.started');
    for (const step of ['tts', 'images', 'compose']) {
      const started = seen.findIndex(
        (m) => m.event === 'job.step.started' && JSON.parse(m.data).data.step.name === step,
      );
      const done = seen.findIndex(
        (m) => m.event === 'job.step.succeeded' && JSON.parse(m.data).data.step.name === step,
      );
      expect(started, step).toBeGreaterThan(0);
      expect(done, step).toBeGreaterThan(started);
    }
    expect(types).toContain('job.progress');
    expect(types.at(-1)).toBe('job.succeeded');
    const final = JSON.parse(seen.at(-1)!.data);
    expect(final.data.job).toMatchObject({ id: jobId, status: 'succeeded', progress: 1 });
    expect(final.data.job.output.content_type).toBe('video/mp4');
    // ids are stream ids, strictly increasing; progress never goes backwards
    const ids = seen.map((m) => m.id!);
    expect([...ids].sort(cmp)).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
    const progress = seen.map((m) => JSON.parse(m.data).data.job.progress as number);
    expect([...progress].sort((x, y) => x - y)).toEqual(progress);
    // the job's status endpoint agrees
    const job = await t.call('GET', `/v1/jobs/${jobId}`, { token: s.access_token });
    expect(job.body.status).toBe('succeeded');

    // Resume on the other replica from the third event: exactly the events after it.
    const resumed = await connect(b.url, '', ids[2]);
    const rest = await until(resumed, (m) => m.id === ids.at(-1));
    await resumed.cancel();
    expect(rest.map((m) => m.id)).toEqual(ids.slice(3));

    // Filters: only this job's final event.
    const filtered = await connect(b.url, `?since=${ids[0]}&types=job.succeeded,job.failed&job_id=${jobId}`);
    const only = await filtered.next();
    expect(only?.event).toBe('job.succeeded');
    expect(only?.id).toBe(ids.at(-1));
    await filtered.cancel();

    // Heartbeats keep an idle stream open (comments every EVENTS_HEARTBEAT_SECONDS = 0.2 s).
    const idle = await fetch(`${a.url}/v1/events?types=usage.threshold_reached`, {
      headers: { authorization: `Bearer ${s.access_token}` },
    });
    const reader = (idle.body as ReadableStream<Uint8Array>).getReader();
    let text = '';
    const until2 = Date.now() + 700;
    while (Date.now() < until2) text += new TextDecoder().decode((await reader.read()).value);
    await reader.cancel();
    expect(text.match(/^: ping$/gm)?.length ?? 0).toBeGreaterThanOrEqual(2);
  });

  it('when a client stops reading, then it is ended cleanly instead of buffered, and a reconnect with its last id loses nothing', async () => {
    // A raw socket that stops reading once the stream starts.
    const socket = net.connect(Number(new URL(a.url).port), '127.0.0.1');
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.write(`GET /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${s.access_token}\r\n\r\n`);
    const chunks: Buffer[] = [];
    await new Promise<void>((resolve) =>
      socket.once('data', (c: Buffer) => {
        chunks.push(c);
        resolve();
      }),
    );
    socket.pause();
    // Connected: write far more than socket buffers hold, straight into the stream.
    const writer = createEventWriter({
      redis: t.env.redis,
      redisPrefix: t.env.config.REDIS_PREFIX,
      logger: createLogger('silent', 'test'),
    });
    const pad = 'x'.repeat(4000);
    const written: string[] = [];
    for (let i = 0; i < 4000; i += 200) {
      // One connection pipelines the batch in order, so stream ids follow the loop.
      const batch = Array.from({ length: 200 }, (_, j) =>
        writer.emit(s.tenant.id, 'webhook.test', { n: i + j, pad }),
      );
      written.push(...((await Promise.all(batch)) as string[]));
    }
    await new Promise((r) => setTimeout(r, 500));
    socket.resume();
    socket.on('data', (c: Buffer) => chunks.push(c));
    await new Promise<void>((resolve) => socket.once('end', () => resolve()));
    socket.destroy();
    const text = Buffer.concat(chunks).toString('utf8');
    const received = [...text.matchAll(/^id: (\S+)$/gm)].map((m) => m[1]!);
    expect(received.length).toBeGreaterThan(0);
    expect(received.length).toBeLessThan(written.length);
    expect(received).toEqual(written.slice(0, received.length));

    const again = await connect(a.url, '', received.at(-1));
    const rest = await until(again, (m) => m.id === written.at(-1));
    await again.cancel();
    expect(rest.map((m) => m.id)).toEqual(written.slice(received.length));
  });

  it('when the query names an unknown event type or a bad id, then 400 names the field', async () => {
    const bad = await fetch(`${a.url}/v1/events?types=job.nope`, {
      headers: { authorization: `Bearer ${s.access_token}` },
    });
    expect(bad.status).toBe(400);
    expect(bad.headers.get('content-type')).toMatch(/problem\+json/);
    expect(((await bad.json()) as { errors: Array<{ path: string }> }).errors[0]?.path).toBe('/types/0');
    const badId = await fetch(`${a.url}/v1/events`, {
      headers: { authorization: `Bearer ${s.access_token}`, 'last-event-id': 'nope' },
    });
    expect(badId.status).toBe(400);
    const anon = await fetch(`${a.url}/v1/events`);
    expect(anon.status).toBe(401);
  });
});

function cmp(x: string, y: string): number {
  const [xm, xs] = x.split('-').map(BigInt) as [bigint, bigint];
  const [ym, ys] = y.split('-').map(BigInt) as [bigint, bigint];
  return xm === ym ? Number(xs - ys) : xm < ym ? -1 : 1;
}
