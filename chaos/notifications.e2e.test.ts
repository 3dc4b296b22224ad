import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SignIn, startTestApi, type TestApi } from '../api/testing/api-harness.ts';
import { notify } from '../shared/notifications/notify.ts';
import { signedWebhook } from '../shared/testing/fake-stripe.ts';
import { present } from '../shared/testing/present.ts';
import { readSse } from '../shared/testing/sse-reader.ts';
import { start as startWorker, type WorkerProcess } from '../workers/main.ts';
import { announceUsageAlert } from '../workers/tasks/usage/usage-alert-event.ts';

/**
 * The in-app feed end to end: each moment the issue names (a member joining, quota 80 %/100 %,
 * payment trouble, an export ready, a job failed for good, a deletion scheduled and canceled)
 * lands once in the feeds of the people concerned, announces itself on the event stream, and
 * can be read and marked read by its owner only.
 */
const STRIPE_SECRET = 'whsec_test_notifications';
let t: TestApi;
let worker: WorkerProcess;
let html: http.Server;
let htmlUrl: string;
let owner: SignIn;
let admin: SignIn;
let member: SignIn;

interface Notice {
  id: string;
  type: string;
  title: string;
  body: string;
  link: string | null;
  target_id: string | null;
  read_at: string | null;
}
interface Feed {
  data: Notice[];
  next_cursor: string | null;
  unread_count: number;
}

async function join(email: string, role: string): Promise<SignIn> {
  const before = t.smtp.mails.length;
  const r = await t.call('POST', '/v1/invites', { token: owner.access_token, body: { email, role } });
  expect(r.status, r.text).toBe(201);
  const token = await t.linkToken(email, before);
  return (await t.call<SignIn>('POST', '/v1/auth/verify', { body: { token } })).body;
}

const feed = async (who: SignIn, query = '') =>
  (await t.call<Feed>('GET', `/v1/notifications${query}`, { token: who.access_token })).body;
const ofType = async (who: SignIn, type: string) =>
  (await feed(who, '?limit=100')).data.filter((n) => n.type === type);

beforeAll(async () => {
  // An "image" that is an HTML page: the render fails at once, without retry.
  html = http.createServer((_req, res) =>
    res.writeHead(200, { 'content-type': 'text/html' }).end('<p>no</p>'),
  );
  await new Promise<void>((r) => html.listen(0, '127.0.0.1', r));
  htmlUrl = `http://127.0.0.1:${(html.address() as AddressInfo).port}/x.png`;
  t = await startTestApi({
    STRIPE_WEBHOOK_SECRET: STRIPE_SECRET,
    FETCH_ALLOW_PRIVATE: '127.0.0.1',
    JOB_BACKOFF_SCALE: '0.001',
    SCHEDULER_ENABLED: 'false',
    ACCOUNT_DELETION_GRACE_SECONDS: '3600',
    RATE_LIMIT_BURST_PER_SECOND: '1000',
    RATE_LIMIT_PER_MINUTE: '100000',
  });
  worker = await startWorker(t.env.config);
  owner = await t.signIn('owner@notify.example.com');
  admin = await join('admin@notify.example.com', 'admin');
  member = await join('member@notify.example.com', 'member');
});
afterAll(async () => {
  await worker?.stop();
  await t?.close();
  await new Promise<void>((r) => html.close(() => r()));
});

describe('what lands in whose feed', () => {
  it('when a member joins by invite, then the owner and admins are told once, live on the stream, and the newcomer is not', async () => {
    const stream = readSse(
      (
        await fetch(`${t.api.url}/v1/events?types=notification.created`, {
          headers: { authorization: `Bearer ${owner.access_token}` },
        })
      ).body as ReadableStream<Uint8Array>,
    );
    const viewer = await join('viewer@notify.example.com', 'viewer');
    const announced = await stream.next();
    await stream.cancel();
    expect(JSON.parse(announced!.data)).toMatchObject({
      type: 'notification.created',
      data: { notification: { type: 'member.joined' } },
    });
    const toOwner = (await ofType(owner, 'member.joined')).filter((n) => n.target_id === viewer.user.id);
    expect(toOwner).toHaveLength(1);
    expect(toOwner[0]).toMatchObject({
      title: 'viewer@notify.example.com joined the team',
      link: '/team',
      read_at: null,
    });
    expect((await ofType(admin, 'member.joined')).some((n) => n.target_id === viewer.user.id)).toBe(true);
    expect((await ofType(member, 'member.joined')).some((n) => n.target_id === viewer.user.id)).toBe(false);
    expect(await ofType(viewer, 'member.joined')).toEqual([]);
  });

  it('when the quota reaches 80 % and then 100 %, then each admin is told once per threshold, however often the alert is announced', async () => {
    const alert = (threshold: number) => ({
      tenantId: owner.tenant.id,
      metric: 'render_seconds',
      threshold,
      used: threshold,
      limit: 100,
      period: '2026-12-01',
    });
    await announceUsageAlert(worker.services, alert(80));
    await announceUsageAlert(worker.services, alert(80));
    await announceUsageAlert(worker.services, alert(100));
    const seen = await ofType(owner, 'usage.threshold_reached');
    expect(seen.map((n) => n.title).sort()).toEqual([
      '100 % of your render seconds quota used',
      '80 % of your render seconds quota used',
    ]);
    expect(seen.find((n) => n.title.startsWith('100'))?.body).toContain('Upgrade');
    expect(await ofType(admin, 'usage.threshold_reached')).toHaveLength(2);
    expect(await ofType(member, 'usage.threshold_reached')).toEqual([]);
  });

  it('when Stripe reports a failed payment, past_due and then the end of the subscription, then admins are told each once, even if Stripe redelivers', async () => {
    const tenantId = owner.tenant.id;
    const send = async (type: string, object: Record<string, unknown>, id: string) => {
      const event = { id, object: 'event', type, created: Math.floor(Date.now() / 1000), data: { object } };
      const signed = signedWebhook(event, STRIPE_SECRET);
      const r = await t.call('POST', '/v1/webhooks/stripe', {
        raw: signed.body,
        headers: { 'stripe-signature': signed.signature },
      });
      expect(r.status, r.text).toBe(200);
    };
    const sub = (status: string) => ({
      id: 'sub_notify',
      object: 'subscription',
      customer: 'cus_notify',
      status,
      metadata: { plan: 'pro', tenant_id: tenantId },
      items: {
        object: 'list',
        data: [{ id: 'si_1', current_period_end: Math.floor(Date.now() / 1000) + 86_400 }],
      },
    });
    await send('customer.subscription.created', sub('active'), 'evt_notify_1');
    const invoice = {
      id: 'in_notify',
      object: 'invoice',
      customer: 'cus_notify',
      parent: { subscription_details: { subscription: 'sub_notify', metadata: { tenant_id: tenantId } } },
    };
    await send('invoice.payment_failed', invoice, 'evt_notify_2');
    await send('invoice.payment_failed', invoice, 'evt_notify_2'); // Stripe redelivers
    await send('customer.subscription.deleted', sub('canceled'), 'evt_notify_3');

    for (const who of [owner, admin]) {
      expect(await ofType(who, 'billing.payment_failed')).toHaveLength(1);
      expect(await ofType(who, 'billing.subscription_past_due')).toHaveLength(1);
      expect(await ofType(who, 'billing.subscription_canceled')).toHaveLength(1);
    }
    expect((await ofType(owner, 'billing.payment_failed'))[0]).toMatchObject({ link: '/billing' });
    expect(await ofType(member, 'billing.payment_failed')).toEqual([]);
  });

  it('when a render fails after its last attempt, then only the member who submitted it is told, with the error and a link to the job', async () => {
    const job = await t.call<{ id: string }>('POST', '/v1/renders', {
      token: member.access_token,
      body: { scenes: [{ image_url: htmlUrl, duration: 1 }] },
    });
    expect(job.status, job.text).toBe(202);
    await expect
      .poll(
        async () => (await ofType(member, 'job.failed')).filter((n) => n.target_id === job.body.id).length,
        {
          timeout: 30_000,
        },
      )
      .toBe(1);
    const [notice] = (await ofType(member, 'job.failed')).filter((n) => n.target_id === job.body.id);
    expect(notice).toMatchObject({ title: 'A render job failed', link: `/jobs/${job.body.id}` });
    const row = present(await t.env.db('jobs').where({ id: job.body.id }).first());
    expect(notice!.body).toContain(row.error_code);
    expect((await ofType(owner, 'job.failed')).some((n) => n.target_id === job.body.id)).toBe(false);
  });

  it('when an export finishes, then the owner who asked is told it is ready', async () => {
    const r = await t.call<{ id: string }>('POST', '/v1/account/export', { token: owner.access_token });
    expect(r.status, r.text).toBe(202);
    await expect
      .poll(async () => (await ofType(owner, 'export.ready')).map((n) => n.target_id), { timeout: 30_000 })
      .toEqual([r.body.id]);
    expect(await ofType(admin, 'export.ready')).toEqual([]);
  });

  it('when the owner schedules the deletion and cancels it, then every member is told both', async () => {
    const fresh = await t.signIn('owner@notify.example.com');
    const scheduled = await t.call('POST', '/v1/account/delete', { token: fresh.access_token });
    expect(scheduled.status, scheduled.text).toBe(202);
    const canceled = await t.call('POST', '/v1/account/delete/cancel', { token: fresh.access_token });
    expect(canceled.status, canceled.text).toBe(200);
    for (const who of [owner, admin, member]) {
      expect(await ofType(who, 'deletion.scheduled')).toHaveLength(1);
      expect(await ofType(who, 'deletion.canceled')).toHaveLength(1);
    }
  });
});

describe('reading the feed', () => {
  /** Five notifications of their own for a user who just joined (this describe needs no other test). */
  const seeded = async (email: string, role: string) => {
    const who = await join(email, role);
    for (let i = 0; i < 5; i++) {
      await notify(t.env.db, {
        tenantId: who.tenant.id,
        type: 'job.failed',
        title: `seeded ${i}`,
        body: 'seeded',
        dedupeKey: `seeded:${who.user.id}:${i}`,
        audience: { userId: who.user.id },
      });
    }
    return who;
  };

  it('when a user pages, filters unread, reads one and reads all, then the counts follow and each change is audited', async () => {
    const reader = await seeded('reader@notify.example.com', 'viewer');
    const all = await feed(reader, '?limit=2');
    expect(all.data).toHaveLength(2);
    expect(all.next_cursor).not.toBeNull();
    const next = await feed(reader, `?limit=2&cursor=${all.next_cursor}`);
    expect(next.data.map((n) => n.id)).not.toContain(all.data[0]!.id);

    const unreadBefore = all.unread_count;
    expect(unreadBefore).toBeGreaterThan(2);
    const first = all.data[0]!;
    const read = await t.call<Notice>('POST', `/v1/notifications/${first.id}/read`, {
      token: reader.access_token,
    });
    expect(read.status).toBe(200);
    expect(read.body.read_at).not.toBeNull();
    const unread = await feed(reader, '?unread=true&limit=100');
    expect(unread.unread_count).toBe(unreadBefore - 1);
    expect(unread.data.map((n) => n.id)).not.toContain(first.id);

    const all2 = await t.call<{ updated: number }>('POST', '/v1/notifications/read-all', {
      token: reader.access_token,
    });
    expect(all2.body.updated).toBe(unreadBefore - 1);
    expect((await feed(reader)).unread_count).toBe(0);
    const actions = (
      await t.env
        .db('audit_log')
        .where({ tenant_id: reader.tenant.id, actor_id: reader.user.id })
        .whereLike('action', 'notification.%')
    ).map((a) => a.action);
    expect(actions.sort()).toEqual(['notification.read', 'notification.read_all']);
  });

  it("when someone reads another user's notification or uses an API key, then 404 and 403, and the feed is unchanged", async () => {
    const other = await seeded('other@notify.example.com', 'admin');
    const mine = (await feed(other, '?unread=true')).data[0]!;
    const r = await t.call('POST', `/v1/notifications/${mine.id}/read`, { token: member.access_token });
    expect(r.status).toBe(404);
    expect((await feed(other, '?unread=true')).data.map((n) => n.id)).toContain(mine.id);
    const key = await t.call<{ key: string }>('POST', '/v1/api-keys', {
      token: owner.access_token,
      body: { name: 'feed', role: 'admin' },
    });
    expect((await t.call('GET', '/v1/notifications', { token: key.body.key })).status).toBe(403);
  });
});
