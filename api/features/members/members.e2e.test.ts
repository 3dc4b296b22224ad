import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SignIn, startTestApi, type TestApi } from '../../testing/api-harness.ts';

let t: TestApi;
beforeAll(async () => {
  t = await startTestApi({ RATE_LIMIT_PER_MINUTE: '10000', RATE_LIMIT_BURST_PER_SECOND: '10000' });
});
afterAll(async () => {
  await t.close();
});

let n = 0;
const email = (who: string) => `${who}.${++n}@members.test`;

/** Invites `address` with `role` as `by`, follows the mailed link, and returns the invitee's sign-in. */
async function join(by: SignIn, address: string, role: string): Promise<SignIn> {
  const before = t.smtp.mails.length;
  const invite = await t.call('POST', '/v1/invites', {
    token: by.access_token,
    body: { email: address, role },
  });
  expect(invite.status, invite.text).toBe(201);
  const token = await t.linkToken(address, before);
  const v = await t.call<SignIn>('POST', '/v1/auth/verify', { body: { token } });
  expect(v.status, v.text).toBe(200);
  return v.body;
}

const render = { scenes: [{ text: 'Hello there' }] };

describe('invites', () => {
  it('when an invitee follows the mailed link, then they are signed in to the inviting tenant with the role', async () => {
    const owner = await t.signIn(email('owner'));
    const address = email('invitee');
    const before = t.smtp.mails.length;
    const r = await t.call('POST', '/v1/invites', {
      token: owner.access_token,
      body: { email: address.toUpperCase(), role: 'member' },
    });
    expect(r.status).toBe(201);
    expect(r.body).toEqual({
      id: expect.any(String),
      email: address,
      role: 'member',
      expires_at: expect.any(String),
    });
    const days = (Date.parse(r.body.expires_at as string) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(6.9);
    const mail = await t.smtp.waitFor(
      (m, i = t.smtp.mails.indexOf(m)) => i >= before && m.to.includes(address),
    );
    expect(mail.subject).toBe('You are invited to Rendermill');

    const pending = await t.call('GET', '/v1/invites', { token: owner.access_token });
    expect(pending.body.data).toEqual([
      expect.objectContaining({ id: r.body.id, email: address, role: 'member' }),
    ]);

    const token = await t.linkToken(address, before);
    const v = await t.call<SignIn>('POST', '/v1/auth/verify', { body: { token } });
    expect(v.status).toBe(200);
    expect(v.body).toMatchObject({ role: 'member', tenant: { id: owner.tenant.id } });

    const members = await t.call<{ data: Array<Record<string, unknown>> }>('GET', '/v1/members', {
      token: v.body.access_token,
    });
    expect(members.body.data.map((m) => [m.email, m.role])).toEqual([
      [owner.user.email, 'owner'],
      [address, 'member'],
    ]);
    expect((await t.call('GET', '/v1/invites', { token: owner.access_token })).body.data).toEqual([]);
    // Single use.
    expect((await t.call('POST', '/v1/auth/verify', { body: { token } })).status).toBe(401);
  });

  it('when a member and a viewer submit a render, then the member is accepted and the viewer refused', async () => {
    const owner = await t.signIn(email('owner'));
    const member = await join(owner, email('member'), 'member');
    const viewer = await join(owner, email('viewer'), 'viewer');
    expect((await t.call('POST', '/v1/renders', { token: member.access_token, body: render })).status).toBe(
      202,
    );
    const refused = await t.call('POST', '/v1/renders', { token: viewer.access_token, body: render });
    expect(refused.status).toBe(403);
    expect(refused.body.code).toBe('forbidden');
    expect((await t.call('GET', '/v1/members', { token: viewer.access_token })).status).toBe(200);
    expect((await t.call('GET', '/v1/invites', { token: member.access_token })).status).toBe(403);
    expect(
      (
        await t.call('POST', '/v1/invites', {
          token: member.access_token,
          body: { email: email('x'), role: 'viewer' },
        })
      ).status,
    ).toBe(403);
  });

  it('when someone with a tenant of their own accepts, then they choose which tenant a session acts for', async () => {
    const owner = await t.signIn(email('owner'));
    const address = email('busy');
    const own = await t.signIn(address);
    const joined = await join(owner, address, 'admin');
    expect(joined.tenant.id).toBe(owner.tenant.id);
    expect(joined.user.id).toBe(own.user.id);
    const back = await t.signIn(address, { tenantId: own.tenant.id });
    expect(back).toMatchObject({ role: 'owner', tenant: { id: own.tenant.id } });
  });

  it('when an admin invites above their role, an existing member, or a bad address, then it is refused', async () => {
    const owner = await t.signIn(email('owner'));
    const admin = await join(owner, email('admin'), 'admin');
    const up = await t.call('POST', '/v1/invites', {
      token: admin.access_token,
      body: { email: email('o'), role: 'owner' },
    });
    expect(up.status).toBe(403);
    const again = await t.call('POST', '/v1/invites', {
      token: admin.access_token,
      body: { email: owner.user.email, role: 'viewer' },
    });
    expect(again.status).toBe(409);
    const bad = await t.call('POST', '/v1/invites', {
      token: admin.access_token,
      body: { email: 'nope', role: 'boss' },
    });
    expect(bad.status).toBe(400);
    expect((bad.body.errors as Array<{ path: string }>).map((e) => e.path).sort()).toEqual([
      '/email',
      '/role',
    ]);
  });

  it('when an invite is withdrawn or re-sent, then only the newest live link works', async () => {
    const owner = await t.signIn(email('owner'));
    const address = email('twice');
    const m0 = t.smtp.mails.length;
    const first = await t.call('POST', '/v1/invites', {
      token: owner.access_token,
      body: { email: address, role: 'viewer' },
    });
    const firstToken = await t.linkToken(address, m0);
    const m1 = t.smtp.mails.length;
    const second = await t.call('POST', '/v1/invites', {
      token: owner.access_token,
      body: { email: address, role: 'member' },
    });
    const secondToken = await t.linkToken(address, m1);
    expect((await t.call('POST', '/v1/auth/verify', { body: { token: firstToken } })).status).toBe(401);

    const other = await t.signIn(email('stranger'));
    expect(
      (await t.call('DELETE', `/v1/invites/${second.body.id}`, { token: other.access_token })).status,
    ).toBe(404);
    expect(
      (await t.call('DELETE', `/v1/invites/${first.body.id}`, { token: owner.access_token })).status,
    ).toBe(404);
    expect(
      (await t.call('DELETE', `/v1/invites/${second.body.id}`, { token: owner.access_token })).status,
    ).toBe(204);
    expect((await t.call('POST', '/v1/auth/verify', { body: { token: secondToken } })).status).toBe(401);
  });
});

describe('roles and removal', () => {
  it('when a member is demoted, then their existing access token loses the right at once', async () => {
    const owner = await t.signIn(email('owner'));
    const member = await join(owner, email('member'), 'member');
    expect((await t.call('POST', '/v1/renders', { token: member.access_token, body: render })).status).toBe(
      202,
    );

    const r = await t.call('PATCH', `/v1/members/${member.user.id}`, {
      token: owner.access_token,
      body: { role: 'viewer' },
    });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ user_id: member.user.id, email: member.user.email, role: 'viewer' });
    expect((await t.call('POST', '/v1/renders', { token: member.access_token, body: render })).status).toBe(
      403,
    );
    expect((await t.call('GET', '/v1/me', { token: member.access_token })).body.role).toBe('viewer');

    await t.call('PATCH', `/v1/members/${member.user.id}`, {
      token: owner.access_token,
      body: { role: 'admin' },
    });
    expect((await t.call('GET', '/v1/api-keys', { token: member.access_token })).status).toBe(200);
  });

  it('when a member is removed, then every session they had for that tenant ends at once', async () => {
    const owner = await t.signIn(email('owner'));
    const address = email('leaver');
    const own = await t.signIn(address);
    const member = await join(owner, address, 'member');
    const second = await t.signIn(address, { tenantId: owner.tenant.id });
    expect(
      (await t.call('DELETE', `/v1/members/${member.user.id}`, { token: owner.access_token })).status,
    ).toBe(204);

    for (const s of [member, second]) {
      expect((await t.call('GET', '/v1/me', { token: s.access_token })).status).toBe(401);
      expect(
        (await t.call('POST', '/v1/auth/refresh', { body: { refresh_token: s.refresh_token } })).status,
      ).toBe(401);
    }
    // Their own tenant is untouched.
    expect((await t.call('GET', '/v1/me', { token: own.access_token })).status).toBe(200);
    const list = await t.call<{ data: Array<{ user_id: string }> }>('GET', '/v1/members', {
      token: owner.access_token,
    });
    expect(list.body.data.map((m) => m.user_id)).toEqual([owner.user.id]);
    expect(
      (await t.call('DELETE', `/v1/members/${member.user.id}`, { token: owner.access_token })).status,
    ).toBe(404);
  });

  it('when the last owner would be demoted or removed, then the API answers 409 and nothing changes', async () => {
    const owner = await t.signIn(email('owner'));
    const admin = await join(owner, email('admin'), 'admin');
    const demote = await t.call('PATCH', `/v1/members/${owner.user.id}`, {
      token: owner.access_token,
      body: { role: 'admin' },
    });
    expect(demote.status).toBe(409);
    expect(demote.body.code).toBe('conflict');
    expect(
      (await t.call('DELETE', `/v1/members/${owner.user.id}`, { token: owner.access_token })).status,
    ).toBe(409);
    // An admin may not touch an owner, nor make one.
    expect(
      (await t.call('DELETE', `/v1/members/${owner.user.id}`, { token: admin.access_token })).status,
    ).toBe(403);
    expect(
      (
        await t.call('PATCH', `/v1/members/${admin.user.id}`, {
          token: admin.access_token,
          body: { role: 'owner' },
        })
      ).status,
    ).toBe(403);
    expect((await t.call('GET', '/v1/me', { token: owner.access_token })).body.role).toBe('owner');
  });

  it('when two owners demote each other at once, then exactly one succeeds and one owner remains', async () => {
    const a = await t.signIn(email('owner'));
    const b = await join(a, email('coowner'), 'owner');
    const [x, y] = await Promise.all([
      t.call('PATCH', `/v1/members/${b.user.id}`, { token: a.access_token, body: { role: 'member' } }),
      t.call('PATCH', `/v1/members/${a.user.id}`, { token: b.access_token, body: { role: 'member' } }),
    ]);
    // The loser answers 409 when it reached the serialised change as an owner, or 403 when the
    // winner's commit came first and its role (read on every request) is already member.
    const [winner, loser] = [x.status, y.status].sort();
    expect(winner).toBe(200);
    expect([403, 409]).toContain(loser);
    expect(await t.env.db('memberships').where({ tenant_id: a.tenant.id, role: 'owner' })).toHaveLength(1);
  });

  it('when a member id of another tenant is used, then it is not found, whatever the verb', async () => {
    const owner = await t.signIn(email('owner'));
    const stranger = await t.signIn(email('stranger'));
    const path = `/v1/members/${stranger.user.id}`;
    expect(
      (await t.call('PATCH', path, { token: owner.access_token, body: { role: 'viewer' } })).status,
    ).toBe(404);
    expect((await t.call('DELETE', path, { token: owner.access_token })).status).toBe(404);
    expect((await t.call('GET', '/v1/me', { token: stranger.access_token })).body.role).toBe('owner');
  });

  it('when members are listed page by page, then every member appears once', async () => {
    const owner = await t.signIn(email('owner'));
    for (const who of ['p1', 'p2', 'p3']) await join(owner, email(who), 'viewer');
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const q: string = cursor ? `?limit=2&cursor=${cursor}` : '?limit=2';
      const page = await t.call<{ data: Array<{ user_id: string }>; next_cursor: string | null }>(
        'GET',
        `/v1/members${q}`,
        { token: owner.access_token },
      );
      expect(page.status).toBe(200);
      seen.push(...page.body.data.map((m) => m.user_id));
      cursor = page.body.next_cursor;
    } while (cursor);
    expect(seen).toHaveLength(4);
    expect(new Set(seen).size).toBe(4);
    expect((await t.call('GET', '/v1/members?cursor=garbage', { token: owner.access_token })).status).toBe(
      400,
    );
  });
});
