import { readdir, readFile } from 'node:fs/promises';
import type { Job } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SignIn, startTestApi, type TestApi } from '../api/testing/api-harness.ts';
import { newId } from '../shared/ids/ids.ts';
import { type FakeFreshdesk, startFakeFreshdesk } from '../shared/testing/fake-freshdesk.ts';
import { present } from '../shared/testing/present.ts';
import { start as startWorker, type WorkerProcess } from '../workers/main.ts';
import { reconcileJobs } from '../workers/tasks/maintenance/reconcile-task.ts';
import { deliverSupportTicket, helpdeskTag } from '../workers/tasks/support/support-deliver-task.ts';

/**
 * Support tickets end to end: the API records them, a real worker delivers them to a local
 * server speaking Freshdesk's API v2, and faults (a 500, a 429 with Retry-After, an answer lost
 * after the ticket was written, a 4xx) never lose a ticket or file it twice.
 */
let fd: FakeFreshdesk;
let t: TestApi;
let worker: WorkerProcess;
let owner: SignIn;
let member: SignIn;

beforeAll(async () => {
  fd = await startFakeFreshdesk();
  t = await startTestApi({
    FRESHDESK_DOMAIN: fd.url,
    FRESHDESK_API_KEY: fd.apiKey,
    FRESHDESK_TIMEOUT_SECONDS: '2',
    JOB_BACKOFF_SCALE: '0.001',
    RECONCILE_QUIET_SECONDS: '0',
    SCHEDULER_ENABLED: 'false',
    RATE_LIMIT_BURST_PER_SECOND: '1000',
    RATE_LIMIT_PER_MINUTE: '100000',
  });
  worker = await startWorker(t.env.config);
  owner = await t.signIn('owner@support.example.com');
  const invite = await t.call('POST', '/v1/invites', {
    token: owner.access_token,
    body: { email: 'member@support.example.com', role: 'member' },
  });
  expect(invite.status).toBe(201);
  const token = await t.linkToken('member@support.example.com');
  member = (await t.call<SignIn>('POST', '/v1/auth/verify', { body: { token } })).body;
});
afterAll(async () => {
  await worker?.stop();
  await t?.close();
  await fd?.close();
});

interface TicketView {
  id: string;
  status: string;
  channel: string | null;
  helpdesk_ticket_id: string | null;
  requester_email: string;
  job_id: string | null;
}

async function file(token: string, body: Record<string, unknown>) {
  const r = await t.call<TicketView>('POST', '/v1/support/tickets', { token, body });
  expect(r.status, r.text).toBe(201);
  return r.body;
}

async function settled(id: string, token = member.access_token): Promise<TicketView> {
  let last: TicketView | undefined;
  await expect
    .poll(
      async () => {
        last = (await t.call<TicketView>('GET', `/v1/support/tickets/${id}`, { token })).body;
        return last.status;
      },
      { timeout: 20_000, interval: 50 },
    )
    .not.toBe('pending');
  return last!;
}

const posts = (from: number) => fd.requests.slice(from).filter((r) => r.method === 'POST');
const ticketsTagged = (id: string) => fd.tickets.filter((x) => x.tags.includes(helpdeskTag(id)));

describe('support tickets through Freshdesk', () => {
  it('when a member reports a problem with a job and Freshdesk answers 500 once, then exactly one Freshdesk ticket exists, with the requester, tenant, plan and a job link', async () => {
    const job = await t.call<{ id: string }>('POST', '/v1/tts', {
      token: member.access_token,
      body: { text: 'support' },
    });
    expect(job.status).toBe(202);
    const from = fd.requests.length;
    fd.faults.push({ kind: 'fail', status: 500 });
    const filed = await file(member.access_token, {
      subject: 'My narration sounds robotic',
      message: 'Line one.\nLine <two> & three.',
      job_id: job.body.id,
    });
    expect(filed).toMatchObject({ status: 'pending', requester_email: 'member@support.example.com' });

    const done = await settled(filed.id);
    const created = ticketsTagged(filed.id);
    expect(created).toHaveLength(1);
    expect(done).toMatchObject({
      status: 'delivered',
      channel: 'freshdesk',
      helpdesk_ticket_id: String(created[0]!.id),
    });
    expect(posts(from)).toHaveLength(2);
    expect(fd.requests.slice(from).every((r) => r.authorized)).toBe(true);
    const fresh = created[0]!;
    expect(fresh.email).toBe('member@support.example.com');
    expect(fresh.subject).toBe('My narration sounds robotic');
    expect(fresh.description).toContain(owner.tenant.id);
    expect(fresh.description).toContain('<b>Plan:</b> free');
    expect(fresh.description).toContain(`${t.env.config.PUBLIC_URL}/jobs/${job.body.id}`);
    // the message is escaped, not markup
    expect(fresh.description).toContain('Line &lt;two&gt; &amp; three.');
    expect(fresh.description).toContain('Line one.<br>');
  });

  it('when Freshdesk writes the ticket but the answer is lost (a dropped connection, then a 502), then the retry finds it and files no second one', async () => {
    for (const fault of [{ kind: 'create-then-drop' }, { kind: 'create-then-fail' }] as const) {
      const from = fd.requests.length;
      fd.faults.push(fault);
      const filed = await file(member.access_token, {
        subject: `Lost answer (${fault.kind})`,
        message: 'hello',
      });
      const done = await settled(filed.id);
      const created = ticketsTagged(filed.id);
      expect(created, fault.kind).toHaveLength(1);
      expect(done.helpdesk_ticket_id, fault.kind).toBe(String(created[0]!.id));
      expect(posts(from), fault.kind).toHaveLength(1);
      // the retry asked before creating
      expect(
        fd.requests.slice(from).some((r) => r.method === 'GET'),
        fault.kind,
      ).toBe(true);
    }
  });

  it('when Freshdesk answers 429 with Retry-After: 1, then the next try waits that long, not the short backoff', async () => {
    const from = fd.requests.length;
    fd.faults.push({ kind: 'fail', status: 429, retryAfter: '1' });
    const filed = await file(member.access_token, { subject: 'Rate limited', message: 'hello' });
    const done = await settled(filed.id);
    expect(done.status).toBe('delivered');
    const [first, second] = posts(from);
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(950);
    expect(ticketsTagged(filed.id)).toHaveLength(1);
  });

  it('when Freshdesk refuses the ticket with a 4xx, then it is failed at once, with one call and the reason kept', async () => {
    const from = fd.requests.length;
    fd.faults.push({ kind: 'fail', status: 400, body: 'Validation failed' });
    const filed = await file(member.access_token, { subject: 'Refused', message: 'hello' });
    expect((await settled(filed.id)).status).toBe('failed');
    expect(posts(from)).toHaveLength(1);
    const row = present(await t.env.db('support_tickets').where({ id: filed.id }).first());
    expect(row.last_error).toContain('HTTP 400');
  });

  it('when an API key files a ticket, then the requester is the workspace owner and the ticket is in the list', async () => {
    const key = await t.call<{ key: string }>('POST', '/v1/api-keys', {
      token: owner.access_token,
      body: { name: 'support', role: 'member' },
    });
    const filed = await file(key.body.key, { subject: 'From a key', message: 'hello' });
    expect(filed.requester_email).toBe('owner@support.example.com');
    await settled(filed.id);
    const list = await t.call<{ data: TicketView[] }>('GET', '/v1/support/tickets?limit=100', {
      token: owner.access_token,
    });
    expect(list.body.data.map((x) => x.id)).toContain(filed.id);
    expect(list.body.data.every((x) => typeof x.status === 'string')).toBe(true);
  });

  it('when the enqueue was lost, then the reconciler re-adds the pending ticket and it is delivered once', async () => {
    const id = newId('tkt');
    await t.env.db('support_tickets').insert({
      id,
      tenant_id: owner.tenant.id,
      user_id: owner.user.id,
      requester_email: 'owner@support.example.com',
      subject: 'Never enqueued',
      message: 'hello',
    });
    await reconcileJobs(worker.services);
    expect((await settled(id, owner.access_token)).status).toBe('delivered');
    expect(ticketsTagged(id)).toHaveLength(1);
  });
});

describe('support tickets: bad input and isolation', () => {
  it('when the subject is missing, the message too long, a field unknown or the job another workspace’s, then 400 names the field and nothing is recorded', async () => {
    const other = await t.signIn('other@support.example.com');
    const theirs = await t.call<{ id: string }>('POST', '/v1/tts', {
      token: other.access_token,
      body: { text: 'not yours' },
    });
    const before = (await t.env.db('support_tickets').count<{ n: string }[]>({ n: '*' }))[0]!.n;
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ message: 'no subject' }, '/subject'],
      [{ subject: '   ', message: 'blank subject' }, '/subject'],
      [{ subject: 'x', message: 'y'.repeat(10_001) }, '/message'],
      [{ subject: 'bell\u0007', message: 'control character' }, '/subject'],
      [{ subject: 'x', message: 'y', priority: 'urgent' }, ''],
      [{ subject: 'x', message: 'y', job_id: theirs.body.id }, '/job_id'],
    ];
    for (const [body, path] of cases) {
      const r = await t.call('POST', '/v1/support/tickets', { token: member.access_token, body });
      expect(r.status, JSON.stringify(body).slice(0, 80)).toBe(400);
      expect(r.headers.get('content-type')).toContain('application/problem+json');
      const paths = (r.body.errors as Array<{ path: string }>).map((e) => e.path);
      if (path) expect(paths).toContain(path);
    }
    const after = (await t.env.db('support_tickets').count<{ n: string }[]>({ n: '*' }))[0]!.n;
    expect(after).toBe(before);
    // and another workspace sees none of ours
    const mine = await file(member.access_token, { subject: 'Mine', message: 'hello' });
    expect(
      (await t.call('GET', `/v1/support/tickets/${mine.id}`, { token: other.access_token })).status,
    ).toBe(404);
    const theirList = await t.call<{ data: TicketView[] }>('GET', '/v1/support/tickets', {
      token: other.access_token,
    });
    expect(theirList.body.data).toEqual([]);
  });
});

describe('support tickets without Freshdesk', () => {
  const fakeJob = {} as Job;
  const insertTicket = async (subject: string) => {
    const id = newId('tkt');
    await t.env.db('support_tickets').insert({
      id,
      tenant_id: owner.tenant.id,
      user_id: owner.user.id,
      requester_email: 'owner@support.example.com',
      subject,
      message: 'Please help.',
    });
    return id;
  };
  const withConfig = (overrides: Record<string, unknown>) => ({
    ...worker.services,
    config: {
      ...worker.services.config,
      FRESHDESK_DOMAIN: undefined,
      FRESHDESK_API_KEY: undefined,
      ...overrides,
    },
  });

  it('when SUPPORT_EMAIL is set, then the ticket is mailed there with the requester and workspace', async () => {
    const id = await insertTicket('Mailed ticket');
    await deliverSupportTicket(withConfig({ SUPPORT_EMAIL: 'help@rendermill.example.com' }), fakeJob, {
      ticketId: id,
      tenantId: owner.tenant.id,
    });
    const mail = await t.smtp.waitFor((m) => m.to.includes('help@rendermill.example.com'));
    expect(mail.subject).toBe('[Support] Mailed ticket');
    expect(mail.text).toContain('From: owner@support.example.com');
    expect(mail.text).toContain(owner.tenant.id);
    const row = await t.env.db('support_tickets').where({ id }).first();
    expect(row).toMatchObject({ status: 'delivered', channel: 'email', helpdesk_ticket_id: null });
  });

  it('when neither Freshdesk nor SUPPORT_EMAIL is set, then the ticket goes to the dev outbox', async () => {
    const id = await insertTicket('Outbox ticket');
    const before = t.smtp.mails.length;
    await deliverSupportTicket(withConfig({ SUPPORT_EMAIL: undefined }), fakeJob, {
      ticketId: id,
      tenantId: owner.tenant.id,
    });
    const dir = t.env.config.DEV_OUTBOX_DIR;
    const files = await Promise.all((await readdir(dir)).map((f) => readFile(`${dir}/${f}`, 'utf8')));
    expect(files.some((f) => f.includes('Subject: [Support] Outbox ticket'))).toBe(true);
    expect(t.smtp.mails.length).toBe(before);
    expect(await t.env.db('support_tickets').where({ id }).first()).toMatchObject({
      status: 'delivered',
      channel: 'outbox',
    });
  });
});
