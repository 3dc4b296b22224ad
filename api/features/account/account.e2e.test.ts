import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordBackup } from '../../../shared/backup/backup-store.ts';
import { recordVerifiedBackup } from '../../../shared/testing/backup-fixture.ts';
import { present } from '../../../shared/testing/present.ts';
import { type SignIn, startTestApi, type TestApi } from '../../testing/api-harness.ts';

const GRACE_SECONDS = 3600;
let t: TestApi;
beforeAll(async () => {
  t = await startTestApi({
    ACCOUNT_DELETION_GRACE_SECONDS: String(GRACE_SECONDS),
    RATE_LIMIT_PER_MINUTE: '10000',
    RATE_LIMIT_BURST_PER_SECOND: '10000',
  });
});
afterAll(async () => {
  await t.close();
});

let n = 0;
async function team(): Promise<{ owner: SignIn; admin: SignIn; member: SignIn }> {
  const owner = await t.signIn(`owner.${++n}@account.test`);
  const join = async (role: string) => {
    const email = `${role}.${n}@account.test`;
    const before = t.smtp.mails.length;
    await t.call('POST', '/v1/invites', { token: owner.access_token, body: { email, role } });
    const token = await t.linkToken(email, before);
    return (await t.call<SignIn>('POST', '/v1/auth/verify', { body: { token } })).body;
  };
  return { owner, admin: await join('admin'), member: await join('member') };
}

const accountQueue = () => t.api.deps.producer.queue('account');

describe('account export', () => {
  it('when an admin asks for an export, then an export job is queued once, however often they ask', async () => {
    const { admin, member } = await team();
    const r = await t.call('POST', '/v1/account/export', { token: admin.access_token });
    expect(r.status).toBe(202);
    expect(r.body).toMatchObject({ kind: 'export', status: 'queued', output: null });
    expect(r.headers.get('location')).toBe(`/v1/jobs/${r.body.id}`);
    const row = present(
      await t.env
        .db('jobs')
        .where({ id: r.body.id as string })
        .first(),
    );
    expect(row).toMatchObject({ tenant_id: admin.tenant.id, payload: { requested_by: admin.user.id } });
    expect(row.enqueued_at).toBeInstanceOf(Date);
    const queued = await accountQueue().getJob(r.body.id as string);
    expect(queued).toMatchObject({
      name: 'account.export',
      data: { jobId: r.body.id, tenantId: admin.tenant.id },
    });

    const again = await t.call('POST', '/v1/account/export', { token: admin.access_token });
    expect(again.body.id).toBe(r.body.id);
    expect(await t.env.db('jobs').where({ tenant_id: admin.tenant.id, kind: 'export' })).toHaveLength(1);
    expect((await t.call('POST', '/v1/account/export', { token: member.access_token })).status).toBe(403);
  });
});

describe('account deletion', () => {
  it('when the owner schedules a deletion, then it is delayed by the grace period and the owners are told', async () => {
    const { owner } = await team();
    const before = t.smtp.mails.length;
    const r = await t.call('POST', '/v1/account/delete', { token: owner.access_token });
    expect(r.status).toBe(202);
    const at = Date.parse(r.body.scheduled_for as string);
    expect(Math.abs(at - (Date.now() + GRACE_SECONDS * 1000))).toBeLessThan(10_000);

    const job = await accountQueue().getJob(r.body.job_id as string);
    expect(await job?.getState()).toBe('delayed');
    expect(job?.opts).toMatchObject({ delay: expect.any(Number), removeOnComplete: true });
    expect(Math.abs((job?.opts.delay ?? 0) - GRACE_SECONDS * 1000)).toBeLessThan(10_000);
    const row = await t.env
      .db('jobs')
      .where({ id: r.body.job_id as string })
      .first();
    expect(row).toMatchObject({
      kind: 'deletion',
      status: 'queued',
      payload: { scheduled_for: r.body.scheduled_for },
    });
    const tenant = present(await t.env.db('tenants').where({ id: owner.tenant.id }).first());
    expect(present(tenant.deletion_scheduled_for).toISOString()).toBe(r.body.scheduled_for);

    const mail = await t.smtp.waitFor(
      (m, i = t.smtp.mails.indexOf(m)) => i >= before && m.to.includes(owner.user.email),
    );
    expect(mail.subject).toBe('Your Rendermill account will be deleted');
    expect(mail.text).toContain(r.body.scheduled_for as string);

    const again = await t.call('POST', '/v1/account/delete', { token: owner.access_token });
    expect(again.body).toEqual(r.body);
    expect(await t.env.db('jobs').where({ tenant_id: owner.tenant.id, kind: 'deletion' })).toHaveLength(1);
  });

  it('when an admin, an API key, or an owner who signed in long ago asks, then it is refused', async () => {
    const { owner, admin } = await team();
    expect((await t.call('POST', '/v1/account/delete', { token: admin.access_token })).status).toBe(403);
    const key = await t.call('POST', '/v1/api-keys', {
      token: owner.access_token,
      body: { name: 'k', role: 'admin' },
    });
    expect((await t.call('POST', '/v1/account/delete', { token: key.body.key as string })).status).toBe(403);

    const sid = JSON.parse(Buffer.from(owner.access_token.split('.')[1]!, 'base64url').toString()).sid;
    await t.env
      .db('sessions')
      .update({ authenticated_at: new Date(Date.now() - 20 * 60_000) })
      .where({ id: sid });
    const stale = await t.call('POST', '/v1/account/delete', { token: owner.access_token });
    expect(stale.status).toBe(403);
    expect(stale.body.detail).toMatch(/recent sign-in.*sign in/);
    expect(await t.env.db('jobs').where({ tenant_id: owner.tenant.id, kind: 'deletion' })).toEqual([]);
  });

  it('when the owner cancels within the grace period, then the job and its queue entry are gone and everything stays', async () => {
    const { owner, admin, member } = await team();
    const scheduled = await t.call('POST', '/v1/account/delete', { token: owner.access_token });
    const jobId = scheduled.body.job_id as string;
    expect((await t.call('POST', '/v1/account/delete/cancel', { token: admin.access_token })).status).toBe(
      403,
    );

    const before = t.smtp.mails.length;
    const r = await t.call('POST', '/v1/account/delete/cancel', { token: owner.access_token });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ canceled: true, job_id: jobId });
    expect(await t.env.db('jobs').where({ id: jobId }).first()).toMatchObject({ status: 'canceled' });
    expect(await accountQueue().getJob(jobId)).toBeUndefined();
    expect(
      present(await t.env.db('tenants').where({ id: owner.tenant.id }).first()).deletion_scheduled_for,
    ).toBeNull();
    await t.smtp.waitFor(
      (m, i = t.smtp.mails.indexOf(m)) => i >= before && m.subject.includes('will not be deleted'),
    );

    for (const s of [owner, admin, member]) {
      expect((await t.call('GET', '/v1/me', { token: s.access_token })).status).toBe(200);
    }
    const members = await t.call<{ data: unknown[] }>('GET', '/v1/members', { token: member.access_token });
    expect(members.body.data).toHaveLength(3);
    expect((await t.call('POST', '/v1/account/delete/cancel', { token: owner.access_token })).status).toBe(
      409,
    );

    // A new request after a cancel schedules a new deletion.
    const next = await t.call('POST', '/v1/account/delete', { token: owner.access_token });
    expect(next.status).toBe(202);
    expect(next.body.job_id).not.toBe(jobId);
  });

  it('when the deletion has already started, then it can no longer be canceled', async () => {
    const { owner } = await team();
    const scheduled = await t.call('POST', '/v1/account/delete', { token: owner.access_token });
    await t.env
      .db('jobs')
      .update({ status: 'running' })
      .where({ id: scheduled.body.job_id as string });
    const r = await t.call('POST', '/v1/account/delete/cancel', { token: owner.access_token });
    expect(r.status).toBe(409);
    expect(r.body.detail).toMatch(/already started/);
  });
});

describe('workspace name', () => {
  it('when an admin renames the workspace, then everyone reads the new name and the rename is audited', async () => {
    const { owner, admin, member } = await team();
    const before = await t.call('GET', '/v1/account', { token: member.access_token });
    expect(before.status).toBe(200);
    expect(before.body).toEqual({
      id: owner.tenant.id,
      name: owner.tenant.name,
      deletion_scheduled_for: null,
      last_backup_at: null,
    });

    const r = await t.call('PATCH', '/v1/account', {
      token: admin.access_token,
      body: { name: '  Acme video ' },
    });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ id: owner.tenant.id, name: 'Acme video' });
    const me = await t.call<{ tenant: { name: string } }>('GET', '/v1/me', { token: member.access_token });
    expect(me.body.tenant.name).toBe('Acme video');
    const audit = await t.env
      .db('audit_log')
      .where({ tenant_id: owner.tenant.id, action: 'account.renamed' });
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({
      actor_id: admin.user.id,
      target_id: owner.tenant.id,
      metadata: { from: owner.tenant.name, to: 'Acme video' },
    });
  });

  it('when a member renames or the name is empty or too long, then it is refused and the name stays', async () => {
    const { owner, admin, member } = await team();
    const asMember = await t.call('PATCH', '/v1/account', {
      token: member.access_token,
      body: { name: 'Mine' },
    });
    expect(asMember.status).toBe(403);
    for (const name of ['   ', 'x'.repeat(101)]) {
      const r = await t.call('PATCH', '/v1/account', { token: admin.access_token, body: { name } });
      expect(r.status).toBe(400);
      expect(r.headers.get('content-type')).toMatch(/application\/problem\+json/);
      expect(JSON.stringify(r.body)).toContain('name');
    }
    const now = await t.call('GET', '/v1/account', { token: owner.access_token });
    expect(now.body.name).toBe(owner.tenant.name);
  });

  it('when a deletion is scheduled, then the account shows its date until it is canceled', async () => {
    const { owner } = await team();
    const d = await t.call('POST', '/v1/account/delete', { token: owner.access_token });
    expect(
      (await t.call('GET', '/v1/account', { token: owner.access_token })).body.deletion_scheduled_for,
    ).toBe(d.body.scheduled_for);
    await t.call('POST', '/v1/account/delete/cancel', { token: owner.access_token });
    expect(
      (await t.call('GET', '/v1/account', { token: owner.access_token })).body.deletion_scheduled_for,
    ).toBeNull();
  });
});

describe('last verified backup', () => {
  it('when backups ran, then the account shows when the last verified one was taken (the newest snapshot, whatever ran after)', async () => {
    const { member } = await team();
    await t.env.db('backups').del();
    await recordVerifiedBackup(t.env.db, 'bkp_20261201T030000Z_aaaaaa', '2026-12-01T03:00:00.000Z');
    // Logged later, taken earlier: the newest snapshot counts, not the newest row.
    await recordVerifiedBackup(t.env.db, 'bkp_20261130T030000Z_bbbbbb', '2026-11-30T03:00:00.000Z');
    await recordBackup(t.env.db, {
      id: 'bkp_20261202T030000Z_cccccc',
      status: 'failed',
      error: 'pg_dump exited 1',
      startedAt: new Date('2026-12-02T03:00:00Z'),
    });
    const r = await t.call('GET', '/v1/account', { token: member.access_token });
    expect(r.status).toBe(200);
    expect(r.body.last_backup_at).toBe('2026-12-01T03:00:00.000Z');
    await t.env.db('backups').del();
  });
});
