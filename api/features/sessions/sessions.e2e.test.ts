import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi } from '../../testing/api-harness.ts';

let t: TestApi;
beforeAll(async () => {
  t = await startTestApi({ RATE_LIMIT_PER_MINUTE: '10000', RATE_LIMIT_BURST_PER_SECOND: '10000' });
});
afterAll(async () => {
  await t.close();
});

interface SessionView {
  id: string;
  current: boolean;
  tenant_id: string;
  ip: string | null;
  user_agent: string | null;
  created_at: string;
  last_used_at: string;
}

describe('sessions', () => {
  it('when a user lists their sessions, then each device shows once, the calling one marked current', async () => {
    const a = await t.signIn('devices@sessions.test');
    const b = await t.signIn('devices@sessions.test');
    await t.signIn('someone-else@sessions.test');
    const r = await t.call<{ data: SessionView[]; next_cursor: null }>('GET', '/v1/sessions', {
      token: a.access_token,
    });
    expect(r.status).toBe(200);
    expect(r.body.data).toHaveLength(2);
    const current = r.body.data.find((s) => s.current);
    const claims = JSON.parse(Buffer.from(a.access_token.split('.')[1]!, 'base64url').toString());
    expect(current?.id).toBe(claims.sid);
    for (const s of r.body.data) {
      expect(s).toMatchObject({
        tenant_id: a.tenant.id,
        ip: expect.any(String),
        user_agent: expect.any(String),
      });
      expect(Date.parse(s.last_used_at)).toBeGreaterThanOrEqual(Date.parse(s.created_at) - 1000);
    }
    expect(r.body.data.filter((s) => s.current)).toHaveLength(1);
    const fromB = await t.call<{ data: SessionView[] }>('GET', '/v1/sessions', { token: b.access_token });
    expect(fromB.body.data.find((s) => s.current)?.id).not.toBe(current?.id);
  });

  it('when a session is deleted, then its access token dies at once and the others live on', async () => {
    const a = await t.signIn('revoke@sessions.test');
    const b = await t.signIn('revoke@sessions.test');
    const list = await t.call<{ data: SessionView[] }>('GET', '/v1/sessions', { token: a.access_token });
    const bId = list.body.data.find((s) => !s.current)!.id;
    expect((await t.call('DELETE', `/v1/sessions/${bId}`, { token: a.access_token })).status).toBe(204);
    expect((await t.call('GET', '/v1/me', { token: b.access_token })).status).toBe(401);
    expect(
      (await t.call('POST', '/v1/auth/refresh', { body: { refresh_token: b.refresh_token } })).status,
    ).toBe(401);
    expect((await t.call('GET', '/v1/me', { token: a.access_token })).status).toBe(200);
    expect((await t.call('DELETE', `/v1/sessions/${bId}`, { token: a.access_token })).status).toBe(404);

    // Deleting the current session signs the caller out.
    const aId = list.body.data.find((s) => s.current)!.id;
    expect((await t.call('DELETE', `/v1/sessions/${aId}`, { token: a.access_token })).status).toBe(204);
    expect((await t.call('GET', '/v1/me', { token: a.access_token })).status).toBe(401);
  });

  it("when someone deletes another user's session, then it is not found and the session lives", async () => {
    const victim = await t.signIn('victim@sessions.test');
    const attacker = await t.signIn('attacker@sessions.test');
    const list = await t.call<{ data: SessionView[] }>('GET', '/v1/sessions', { token: victim.access_token });
    const r = await t.call('DELETE', `/v1/sessions/${list.body.data[0]!.id}`, {
      token: attacker.access_token,
    });
    expect(r.status).toBe(404);
    expect((await t.call('GET', '/v1/me', { token: victim.access_token })).status).toBe(200);
  });

  it("when a user ends their session in another tenant, then that tenant's log records it and this one learns nothing", async () => {
    const home = await t.signIn('two-homes@sessions.test');
    const host = await t.signIn('host@sessions.test');
    const before = t.smtp.mails.length;
    await t.call('POST', '/v1/invites', {
      token: host.access_token,
      body: { email: 'two-homes@sessions.test', role: 'viewer' },
    });
    const token = await t.linkToken('two-homes@sessions.test', before);
    const away = (await t.call<{ access_token: string }>('POST', '/v1/auth/verify', { body: { token } }))
      .body;
    const list = await t.call<{ data: SessionView[] }>('GET', '/v1/sessions', { token: home.access_token });
    const awayId = list.body.data.find((s) => s.tenant_id === host.tenant.id)!.id;

    const r = await t.call('DELETE', `/v1/sessions/${awayId}`, { token: home.access_token });
    expect(r.status).toBe(204);
    expect((await t.call('GET', '/v1/me', { token: away.access_token })).status).toBe(401);
    const entry = await t.env.db('audit_log').where({ request_id: r.headers.get('x-request-id') });
    expect(entry).toEqual([
      expect.objectContaining({ tenant_id: host.tenant.id, action: 'session.revoked' }),
    ]);
    const homeLog = await t.env.db('audit_log').where({ tenant_id: home.tenant.id });
    expect(JSON.stringify(homeLog)).not.toContain(host.tenant.id);
  });

  it('when an API key asks for sessions, then it is refused: keys have none', async () => {
    const owner = await t.signIn('keys@sessions.test');
    const key = await t.call('POST', '/v1/api-keys', { token: owner.access_token, body: { name: 'ci' } });
    const r = await t.call('GET', '/v1/sessions', { token: key.body.key as string });
    expect(r.status).toBe(403);
  });

  it('when sessions are listed page by page, then each appears once', async () => {
    const first = await t.signIn('many@sessions.test');
    for (let i = 0; i < 4; i++) await t.signIn('many@sessions.test');
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { body: { data: SessionView[]; next_cursor: string | null } } = await t.call(
        'GET',
        `/v1/sessions?limit=2${cursor ? `&cursor=${cursor}` : ''}`,
        { token: first.access_token },
      );
      seen.push(...page.body.data.map((s) => s.id));
      cursor = page.body.next_cursor;
    } while (cursor);
    expect(seen).toHaveLength(5);
    expect(new Set(seen).size).toBe(5);
  });
});
