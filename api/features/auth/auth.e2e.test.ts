import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi } from '../../testing/api-harness.ts';

let t: TestApi;
beforeAll(async () => {
  t = await startTestApi();
});
afterAll(async () => {
  await t.close();
});

describe('magic-link sign-in', () => {
  it('when a new address follows the emailed link, then it gets tokens, a new tenant and the owner role', async () => {
    const r = await t.call('POST', '/v1/auth/magic-link', { body: { email: 'New.User@Example.com' } });
    expect(r.status).toBe(202);
    expect(r.body).toEqual({ ok: true });
    const mail = await t.smtp.waitFor((m) => m.to.includes('new.user@example.com'));
    expect(mail.text).toContain('http://rendermill.test/sign-in/verify?token=');
    const token = await t.linkToken('new.user@example.com');
    expect(Buffer.from(token, 'base64url').length).toBeGreaterThanOrEqual(32);

    const v = await t.call('POST', '/v1/auth/verify', { body: { token } });
    expect(v.status).toBe(200);
    expect(v.body).toMatchObject({
      token_type: 'Bearer',
      role: 'owner',
      user: { email: 'new.user@example.com' },
    });
    expect(v.body.tenant).toMatchObject({ plan: 'free' });

    const me = await t.call('GET', '/v1/me', { token: v.body.access_token as string });
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ role: 'owner', plan: 'free', user: { email: 'new.user@example.com' } });

    // Only the hash is stored.
    const rows = await t.env.db('magic_link_tokens').select('token_hash');
    expect(rows.map((x) => x.token_hash)).not.toContain(token);
  });

  it('when the same address signs in again, then it lands in the same tenant', async () => {
    const first = await t.signIn('repeat@example.com');
    const second = await t.signIn('repeat@example.com');
    expect(second.tenant.id).toBe(first.tenant.id);
    expect(second.user.id).toBe(first.user.id);
    expect(await t.env.db('tenants').whereIn('id', [first.tenant.id]).count({ n: '*' })).toEqual([{ n: 1 }]);
  });

  it('when the link page is opened with GET, then it shows a POST form and the token still works', async () => {
    await t.call('POST', '/v1/auth/magic-link', { body: { email: 'scanner@example.com' } });
    const token = await t.linkToken('scanner@example.com');
    const page = await t.call('GET', `/v1/auth/verify?token=${token}`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(page.text).toContain('method="post"');
    const again = await t.call('GET', `/v1/auth/verify?token=${token}`);
    expect(again.status).toBe(200);
    // The page's form posts urlencoded.
    const res = await fetch(`${t.api.url}/v1/auth/verify`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `token=${token}`,
    });
    expect(res.status).toBe(200);
  });

  it('when a token is used twice, unknown, or expired, then verify answers 401 problem+json', async () => {
    await t.call('POST', '/v1/auth/magic-link', { body: { email: 'once@example.com' } });
    const token = await t.linkToken('once@example.com');
    expect((await t.call('POST', '/v1/auth/verify', { body: { token } })).status).toBe(200);
    const reused = await t.call('POST', '/v1/auth/verify', { body: { token } });
    expect(reused.status).toBe(401);
    expect(reused.headers.get('content-type')).toContain('application/problem+json');
    expect(reused.body).toMatchObject({ code: 'unauthenticated', status: 401 });

    expect((await t.call('POST', '/v1/auth/verify', { body: { token: 'A'.repeat(43) } })).status).toBe(401);

    const before = t.smtp.mails.length;
    await t.call('POST', '/v1/auth/magic-link', { body: { email: 'late@example.com' } });
    const stale = await t.linkToken('late@example.com', before);
    await t.env
      .db('magic_link_tokens')
      .update({ expires_at: new Date(Date.now() - 1000) })
      .where({ email: 'late@example.com' });
    expect((await t.call('POST', '/v1/auth/verify', { body: { token: stale } })).status).toBe(401);
  });

  it('when two requests consume one token at once, then exactly one succeeds', async () => {
    await t.call('POST', '/v1/auth/magic-link', { body: { email: 'race@example.com' } });
    const token = await t.linkToken('race@example.com');
    const results = await Promise.all(
      [1, 2, 3].map(() => t.call('POST', '/v1/auth/verify', { body: { token } })),
    );
    expect(results.map((r) => r.status).sort()).toEqual([200, 401, 401]);
  });

  it('when a known and an unknown address ask for a link, then the answers are identical', async () => {
    await t.signIn('known@example.com');
    const known = await t.call('POST', '/v1/auth/magic-link', { body: { email: 'known@example.com' } });
    const unknown = await t.call('POST', '/v1/auth/magic-link', {
      body: { email: 'nobody-here@example.com' },
    });
    expect(known.status).toBe(unknown.status);
    expect(known.text).toBe(unknown.text);
  });
});

describe('sessions', () => {
  it('when a refresh token is used, then a new pair is issued and the old refresh token is spent', async () => {
    const s = await t.signIn('rotate@example.com');
    const r1 = await t.call('POST', '/v1/auth/refresh', { body: { refresh_token: s.refresh_token } });
    expect(r1.status).toBe(200);
    expect(r1.body.refresh_token).not.toBe(s.refresh_token);
    expect((await t.call('GET', '/v1/me', { token: r1.body.access_token as string })).status).toBe(200);

    // Reuse of the rotated token: 401 and the whole family dies, including the newest pair.
    const reuse = await t.call('POST', '/v1/auth/refresh', { body: { refresh_token: s.refresh_token } });
    expect(reuse.status).toBe(401);
    expect(
      (await t.call('POST', '/v1/auth/refresh', { body: { refresh_token: r1.body.refresh_token } })).status,
    ).toBe(401);
    expect((await t.call('GET', '/v1/me', { token: r1.body.access_token as string })).status).toBe(401);
    expect((await t.call('GET', '/v1/me', { token: s.access_token })).status).toBe(401);
  });

  it('when a session logs out, then its access token stops working at once and other sessions live on', async () => {
    const a = await t.signIn('logout@example.com');
    const b = await t.signIn('logout@example.com');
    expect(
      (await t.call('POST', '/v1/auth/logout', { body: { refresh_token: a.refresh_token } })).status,
    ).toBe(204);
    expect((await t.call('GET', '/v1/me', { token: a.access_token })).status).toBe(401);
    expect(
      (await t.call('POST', '/v1/auth/refresh', { body: { refresh_token: a.refresh_token } })).status,
    ).toBe(401);
    expect((await t.call('GET', '/v1/me', { token: b.access_token })).status).toBe(200);
  });

  it('when a user logs out everywhere, then every issued access token dies at once', async () => {
    const a = await t.signIn('everywhere@example.com');
    const b = await t.signIn('everywhere@example.com');
    expect((await t.call('POST', '/v1/auth/logout-all', { token: a.access_token })).status).toBe(204);
    for (const s of [a, b]) {
      expect((await t.call('GET', '/v1/me', { token: s.access_token })).status).toBe(401);
      expect(
        (await t.call('POST', '/v1/auth/refresh', { body: { refresh_token: s.refresh_token } })).status,
      ).toBe(401);
    }
    const audit = await t.env.db('audit_log').where({ action: 'session.logout_all', actor_id: a.user.id });
    expect(audit).toHaveLength(1);
  });

  it('when logout-all is called with an API key, then it answers 403 and ends no session', async () => {
    const s = await t.signIn('keyholder@example.com');
    const key = await t.call('POST', '/v1/api-keys', {
      token: s.access_token,
      body: { name: 'k', role: 'admin' },
    });
    const r = await t.call('POST', '/v1/auth/logout-all', { token: key.body.key as string });
    expect(r.status).toBe(403);
    expect(r.body.code).toBe('forbidden');
    expect((await t.call('GET', '/v1/me', { token: s.access_token })).status).toBe(200);
  });
});

describe('access token attacks', () => {
  const secret = () => new TextEncoder().encode(t.env.config.JWT_SECRET);
  const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');

  it('when a token is forged, tampered, expired or for another audience, then the API answers 401', async () => {
    const s = await t.signIn('attacker@example.com');
    const [h, p, sig] = s.access_token.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;

    const algNone = `${b64({ alg: 'none', typ: 'JWT' })}.${p}.`;
    const otherKey = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256' })
      .sign(new TextEncoder().encode('x'.repeat(40)));
    const tampered = `${h}.${b64({ ...claims, tid: 'ten_someoneelse' })}.${sig}`;
    const expired = await new SignJWT({ ...claims, exp: Math.floor(Date.now() / 1000) - 3600 })
      .setProtectedHeader({ alg: 'HS256' })
      .sign(secret());
    const wrongAud = await new SignJWT({ ...claims, aud: 'another-api' })
      .setProtectedHeader({ alg: 'HS256' })
      .sign(secret());
    const hs512 = await new SignJWT(claims).setProtectedHeader({ alg: 'HS512' }).sign(secret());

    for (const token of [algNone, otherKey, tampered, expired, wrongAud, hs512, 'garbage', `${h}.${p}`]) {
      const r = await t.call('GET', '/v1/me', { token });
      expect(r.status, token.slice(0, 30)).toBe(401);
      expect(r.body.code).toBe('unauthenticated');
    }
    expect((await t.call('GET', '/v1/me', { token: s.access_token })).status).toBe(200);
    expect((await t.call('GET', '/v1/me')).status).toBe(401);
  });
});
