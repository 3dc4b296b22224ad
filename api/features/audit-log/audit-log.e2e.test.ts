import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SignIn, startTestApi, type TestApi } from '../../testing/api-harness.ts';

let t: TestApi;
let owner: SignIn;
let other: SignIn;
beforeAll(async () => {
  t = await startTestApi({ RATE_LIMIT_PER_MINUTE: '10000', RATE_LIMIT_BURST_PER_SECOND: '10000' });
  owner = await t.signIn('owner@audit.test');
  other = await t.signIn('other@audit.test');
  for (const name of ['a', 'b', 'c']) {
    await t.call('POST', '/v1/api-keys', { token: owner.access_token, body: { name } });
  }
  await t.call('POST', '/v1/invites', {
    token: owner.access_token,
    body: { email: 'x@audit.test', role: 'viewer' },
  });
  await t.call('POST', '/v1/api-keys', { token: other.access_token, body: { name: 'theirs' } });
});
afterAll(async () => {
  await t.close();
});

interface Entry {
  id: string;
  action: string;
  actor_id: string | null;
  created_at: string;
  request_id: string | null;
}
type Page = { data: Entry[]; next_cursor: string | null };
const list = (query = '', token = owner.access_token) =>
  t.call<Page>('GET', `/v1/audit-log${query}`, { token });

describe('audit log', () => {
  it("when an admin reads the log, then it lists the tenant's entries newest first, and no other tenant's", async () => {
    const r = await list();
    expect(r.status).toBe(200);
    const actions = r.body.data.map((e) => e.action);
    expect(actions).toEqual([
      'invite.created',
      'api_key.created',
      'api_key.created',
      'api_key.created',
      'session.created',
      'tenant.created',
    ]);
    const ids = r.body.data.map((e) => Number(e.id));
    expect(ids).toEqual([...ids].sort((a, b) => b - a));
    expect(JSON.stringify(r.body)).not.toContain(other.user.id);
  });

  it('when filtered by action, family, actor and time, then only matching entries come back', async () => {
    expect((await list('?action=api_key.created')).body.data).toHaveLength(3);
    expect((await list('?action=api_key.*')).body.data).toHaveLength(3);
    expect((await list('?action=session.*')).body.data.map((e) => e.action)).toEqual(['session.created']);
    const mine = await list(`?actor_id=${owner.user.id}`);
    expect(mine.body.data.length).toBe(6);
    expect((await list('?actor_id=usr_nobody')).body.data).toEqual([]);

    const all = (await list()).body.data;
    const newest = all[0]!;
    const from = await list(`?from=${encodeURIComponent(newest.created_at)}`);
    expect(from.body.data.map((e) => e.id)).toContain(newest.id);
    const to = await list(`?to=${encodeURIComponent(newest.created_at)}`);
    expect(to.body.data.map((e) => e.id)).not.toContain(newest.id);
    const future = new Date(Date.now() + 3_600_000).toISOString();
    expect((await list(`?from=${future}`)).body.data).toEqual([]);
  });

  it('when walked page by page, then every entry appears once, in order', async () => {
    const all = (await list()).body.data.map((e) => e.id);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { status: number; body: Page } = await list(`?limit=4${cursor ? `&cursor=${cursor}` : ''}`);
      expect(page.status).toBe(200);
      expect(page.body.data.length).toBeLessThanOrEqual(4);
      seen.push(...page.body.data.map((e) => e.id));
      cursor = page.body.next_cursor;
    } while (cursor);
    expect(seen).toEqual(all);
  });

  it('when the query is invalid, then 400 names each bad field', async () => {
    const paths = async (q: string) => {
      const r = await list(q);
      expect(r.status, q).toBe(400);
      return (r.body as unknown as { errors: Array<{ path: string }> }).errors.map((e) => e.path);
    };
    expect(await paths('?from=yesterday')).toEqual(['/from']);
    expect(await paths('?from=2026-11-20T10:00:00Z&to=2026-11-20T09:00:00Z')).toEqual(['/to']);
    expect(await paths('?limit=0')).toEqual(['/limit']);
    expect(await paths('?limit=500')).toEqual(['/limit']);
    expect(await paths('?action=DROP%20TABLE')).toEqual(['/action']);
    expect(await paths('?cursor=not-ours')).toEqual(['/cursor']);
    expect(await paths(`?cursor=${Buffer.from('[-1]').toString('base64url')}`)).toEqual(['/cursor']);
  });

  it('when a member or a viewer asks, then it is refused', async () => {
    const before = t.smtp.mails.length;
    await t.call('POST', '/v1/invites', {
      token: owner.access_token,
      body: { email: 'm@audit.test', role: 'member' },
    });
    const token = await t.linkToken('m@audit.test', before);
    const member = await t.call<SignIn>('POST', '/v1/auth/verify', { body: { token } });
    expect((await list('', member.body.access_token)).status).toBe(403);
  });
});
