import { createHmac } from 'node:crypto';
import type http from 'node:http';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SignIn, startTestApi, type TestApi } from '../api/testing/api-harness.ts';
import { verifyWebhook } from '../sdk/src/index.ts';
import { readSse } from '../shared/testing/sse-reader.ts';
import {
  type ReceivedRequest,
  startWebhookReceiver,
  type WebhookReceiver,
} from '../shared/testing/webhook-receiver.ts';
import { start as startWorker, type WorkerProcess } from '../workers/main.ts';

/**
 * Standard Webhooks end to end: the API and a worker deliver real job events to a local receiver;
 * the `standardwebhooks` library and the SDK verify them; rotation signs with both secrets; the
 * delivery log shows every attempt; replay resends with the same webhook-id.
 */
type Received = ReceivedRequest;
let t: TestApi;
let worker: WorkerProcess;
let s: SignIn;
let receiver: WebhookReceiver;
let receiverUrl: string;
let received: Received[] = [];
const answers: Array<{ status: number; body: string }> = [];

beforeAll(async () => {
  receiver = await startWebhookReceiver(() => answers.shift() ?? { status: 200, body: 'ok' });
  received = receiver.received;
  receiverUrl = `${receiver.url}/hooks`;
  t = await startTestApi({
    FETCH_ALLOW_PRIVATE: '127.0.0.1',
    JOB_BACKOFF_SCALE: '0.001',
    RATE_LIMIT_BURST_PER_SECOND: '1000',
    RATE_LIMIT_PER_MINUTE: '100000',
  });
  worker = await startWorker(t.env.config);
  s = await t.signIn('hooks@example.com');
});
afterAll(async () => {
  await worker?.stop();
  await t?.close();
  await receiver?.close();
});

const call = (method: string, path: string, body?: unknown) =>
  t.call(method, path, { token: s.access_token, body });

async function nextWebhook(predicate: (r: Received) => boolean, from = 0): Promise<Received> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const hit = received.slice(from).find(predicate);
    if (hit) return hit;
    if (Date.now() > deadline) throw new Error(`no matching webhook (got ${received.length})`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
const ofType = (type: string) => (r: Received) => JSON.parse(r.body).type === type;
const headerBag = (h: http.IncomingHttpHeaders) =>
  Object.fromEntries(Object.entries(h).map(([k, v]) => [k, String(v)]));

describe('default webhook endpoint', () => {
  it('when the endpoint URL is private or not http(s), then 400 names /url; a public one is saved and audited', async () => {
    expect((await call('PUT', '/v1/webhook-endpoint', { url: 'http://10.1.2.3/x' })).status).toBe(400);
    const ftp = await call('PUT', '/v1/webhook-endpoint', { url: 'ftp://example.com/x' });
    expect(ftp.status).toBe(400);
    expect((ftp.body.errors as Array<{ path: string }>)[0]?.path).toBe('/url');
    expect(
      (await call('PUT', '/v1/webhook-endpoint', { url: receiverUrl, events: ['job.nope'] })).status,
    ).toBe(400);
    expect((await call('GET', '/v1/webhook-endpoint')).status).toBe(404);

    const put = await call('PUT', '/v1/webhook-endpoint', { url: receiverUrl });
    expect(put.status, put.text).toBe(200);
    expect((await call('GET', '/v1/webhook-endpoint')).body).toMatchObject({
      url: receiverUrl,
      events: null,
    });
    const audit = await t.env
      .db('audit_log')
      .where({ tenant_id: s.tenant.id, action: 'webhook_endpoint.updated' });
    expect(audit).toHaveLength(1);
  });

  it('when a job without callback_url succeeds, then the endpoint gets the stream event signed the Standard Webhooks way and the legacy way', async () => {
    const { secret } = (await call('GET', '/v1/webhook-secret')).body as { secret: string };
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/);
    const job = await call('POST', '/v1/images', { title: 'hooked' });
    expect(job.status).toBe(202);
    const hook = await nextWebhook((r) => JSON.parse(r.body).data?.job?.id === job.body.id);
    const event = JSON.parse(hook.body);
    expect(event.type).toBe('job.succeeded');
    // the library verifies it, the SDK verifies it
    expect(new Webhook(secret).verify(hook.body, headerBag(hook.headers))).toEqual(event);
    expect((await verifyWebhook(hook.body, headerBag(hook.headers), secret)).id).toBe(event.id);
    expect(hook.headers['webhook-id']).toBe(event.id);
    // legacy header still there
    const legacy = String(hook.headers['rendermill-signature']);
    const ts = /t=(\d+)/.exec(legacy)?.[1];
    const mac = createHmac('sha256', secret).update(`${ts}.${hook.body}`).digest('hex');
    expect(legacy).toContain(`v1=${mac}`);
    // the same event (id and payload) is on the stream
    const res = await fetch(`${t.api.url}/v1/events?since=0-0&job_id=${job.body.id}&types=job.succeeded`, {
      headers: { authorization: `Bearer ${s.access_token}` },
    });
    const stream = readSse(res.body as ReadableStream<Uint8Array>);
    const streamed = await stream.next();
    await stream.cancel();
    expect(JSON.parse(streamed!.data)).toEqual(event);
  });
});

describe('rotation, test events, the delivery log and replay', () => {
  it('when the secret is rotated, then test webhooks carry both signatures and either secret verifies them', async () => {
    const { secret: old } = (await call('GET', '/v1/webhook-secret')).body as { secret: string };
    const rotated = await call('POST', '/v1/webhook-secret/rotate', { overlap_seconds: 3600 });
    expect(rotated.status).toBe(200);
    const fresh = rotated.body.secret as string;
    expect(fresh).not.toBe(old);
    const from = received.length;
    const sent = await call('POST', '/v1/webhooks/test');
    expect(sent.status, sent.text).toBe(202);
    const hook = await nextWebhook(ofType('webhook.test'), from);
    expect(String(hook.headers['webhook-signature']).split(' ')).toHaveLength(2);
    expect(new Webhook(fresh).verify(hook.body, headerBag(hook.headers))).toMatchObject({
      type: 'webhook.test',
    });
    expect(new Webhook(old).verify(hook.body, headerBag(hook.headers))).toMatchObject({
      type: 'webhook.test',
    });
    expect((await call('GET', '/v1/webhook-secret')).body.previous_valid_until).toBeTruthy();
  });

  it('when the endpoint fails once, then the log shows both attempts with status, latency, body and retry time; replay resends with the same webhook-id', async () => {
    answers.push({ status: 500, body: 'nope, try later' });
    const from = received.length;
    const sent = await call('POST', '/v1/webhooks/test');
    const id = sent.body.id as string;
    await nextWebhook(ofType('webhook.test'), from);
    const deadline = Date.now() + 30_000;
    let d: Record<string, unknown> = {};
    while (Date.now() < deadline) {
      d = (await call('GET', `/v1/webhook-deliveries/${id}`)).body;
      if (d.status === 'delivered') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(d.status).toBe('delivered');
    const attempts = d.attempts as Array<Record<string, unknown>>;
    expect(attempts).toHaveLength(2);
    expect(attempts[0]).toMatchObject({
      status_code: 500,
      response_body: 'nope, try later',
      url: receiverUrl,
    });
    expect(attempts[0]!.next_retry_at).toEqual(expect.any(String));
    expect(attempts[0]!.latency_ms).toEqual(expect.any(Number));
    expect(attempts[1]).toMatchObject({ status_code: 200, response_body: 'ok', next_retry_at: null });
    const twoHooks = received.slice(from).filter(ofType('webhook.test'));
    expect(new Set(twoHooks.map((h) => h.headers['webhook-id'])).size).toBe(1);

    // filters and cursor
    const list = await call('GET', '/v1/webhook-deliveries?event=webhook.test&status=delivered&limit=1');
    expect(list.status).toBe(200);
    expect((list.body.data as unknown[]).length).toBe(1);
    const next = await call(
      'GET',
      `/v1/webhook-deliveries?event=webhook.test&status=delivered&limit=1&cursor=${String(list.body.next_cursor)}`,
    );
    expect((next.body.data as Array<{ id: string }>)[0]?.id).not.toBe(
      (list.body.data as Array<{ id: string }>)[0]?.id,
    );
    expect((await call('GET', '/v1/webhook-deliveries?status=nope')).status).toBe(400);

    // replay
    const before = received.length;
    const replay = await call('POST', `/v1/webhook-deliveries/${id}/replay`);
    expect(replay.status, replay.text).toBe(202);
    const again = await nextWebhook(ofType('webhook.test'), before);
    expect(again.headers['webhook-id']).toBe(twoHooks[0]!.headers['webhook-id']);
    expect((await call('POST', '/v1/webhook-deliveries/dlv_nope/replay')).status).toBe(404);
  });

  it('when the endpoint is deleted, then GET answers 404 and the test event has nowhere to go', async () => {
    expect((await call('DELETE', '/v1/webhook-endpoint')).status).toBe(204);
    expect((await call('GET', '/v1/webhook-endpoint')).status).toBe(404);
    expect((await call('POST', '/v1/webhooks/test')).status).toBe(404);
  });
});
