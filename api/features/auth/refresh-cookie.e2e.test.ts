import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi } from '../../testing/api-harness.ts';

/** Browser sessions: the refresh token as an HttpOnly cookie, with a CSRF check on every use. */
let t: TestApi;
beforeAll(async () => {
  t = await startTestApi({ PUBLIC_URL: 'https://app.rendermill.test' });
});
afterAll(async () => {
  await t.close();
});

const CSRF = { 'x-rendermill-csrf': '1' };
const cookieOf = (setCookie: string | null) => /rm_refresh=([^;]*)/.exec(setCookie ?? '')?.[1] ?? '';

async function cookieSignIn(email: string) {
  const before = t.smtp.mails.length;
  await t.call('POST', '/v1/auth/magic-link', { body: { email } });
  const token = await t.linkToken(email, before);
  const v = await t.call('POST', '/v1/auth/verify', { body: { token, session: 'cookie' }, headers: CSRF });
  return { v, cookie: cookieOf(v.headers.get('set-cookie')) };
}

describe('refresh cookie', () => {
  it('when a browser signs in with session=cookie, then the refresh token is only in an HttpOnly, Secure, SameSite=Strict cookie on the refresh path', async () => {
    const { v, cookie } = await cookieSignIn('cookie@example.com');
    expect(v.status, v.text).toBe(200);
    expect(v.body.refresh_token).toBeUndefined();
    expect(v.body.access_token).toEqual(expect.any(String));
    const set = v.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(/^rt_/);
    expect(set).toContain('Path=/v1/auth/refresh');
    expect(set).toContain('HttpOnly');
    expect(set).toContain('Secure'); // PUBLIC_URL is https
    expect(set).toContain('SameSite=Strict');
    expect(set).toMatch(/Max-Age=\d+/);
  });

  it('when the cookie is presented with the CSRF header or our Origin, then it rotates; without either it is refused and the token is not spent', async () => {
    const { cookie } = await cookieSignIn('rotate-cookie@example.com');
    const bare = await t.call('POST', '/v1/auth/refresh', { headers: { cookie: `rm_refresh=${cookie}` } });
    expect(bare.status).toBe(403);
    const foreign = await t.call('POST', '/v1/auth/refresh', {
      headers: { cookie: `rm_refresh=${cookie}`, origin: 'https://evil.example' },
    });
    expect(foreign.status).toBe(403);

    const r1 = await t.call('POST', '/v1/auth/refresh', {
      headers: { cookie: `rm_refresh=${cookie}`, ...CSRF },
    });
    expect(r1.status, r1.text).toBe(200);
    expect(r1.body.refresh_token).toBeUndefined();
    const next = cookieOf(r1.headers.get('set-cookie'));
    expect(next).toMatch(/^rt_/);
    expect(next).not.toBe(cookie);
    expect((await t.call('GET', '/v1/me', { token: r1.body.access_token as string })).status).toBe(200);

    const r2 = await t.call('POST', '/v1/auth/refresh', {
      headers: { cookie: `rm_refresh=${next}`, origin: 'https://app.rendermill.test' },
    });
    expect(r2.status, r2.text).toBe(200);

    // Reuse of a rotated cookie kills the family, as with body tokens; the 401 clears the cookie.
    const reuse = await t.call('POST', '/v1/auth/refresh', {
      headers: { cookie: `rm_refresh=${cookie}`, ...CSRF },
    });
    expect(reuse.status).toBe(401);
    expect(reuse.headers.get('set-cookie')).toMatch(/rm_refresh=;.*Expires=Thu, 01 Jan 1970/);
    expect((await t.call('GET', '/v1/me', { token: r2.body.access_token as string })).status).toBe(401);
  });

  it('when a cookie sign-in lacks the CSRF header and Origin, then it is refused before the link is spent', async () => {
    const before = t.smtp.mails.length;
    await t.call('POST', '/v1/auth/magic-link', { body: { email: 'csrf-verify@example.com' } });
    const token = await t.linkToken('csrf-verify@example.com', before);
    const refused = await t.call('POST', '/v1/auth/verify', { body: { token, session: 'cookie' } });
    expect(refused.status).toBe(403);
    expect(refused.headers.get('set-cookie')).toBeNull();
    const ok = await t.call('POST', '/v1/auth/verify', { body: { token, session: 'cookie' }, headers: CSRF });
    expect(ok.status).toBe(200);
  });

  it('when DELETE /v1/auth/refresh is called with the cookie, then that session ends and the cookie is cleared', async () => {
    const { v, cookie } = await cookieSignIn('cookie-out@example.com');
    expect(
      (await t.call('DELETE', '/v1/auth/refresh', { headers: { cookie: `rm_refresh=${cookie}` } })).status,
    ).toBe(403);
    const out = await t.call('DELETE', '/v1/auth/refresh', {
      headers: { cookie: `rm_refresh=${cookie}`, ...CSRF },
    });
    expect(out.status).toBe(204);
    expect(out.headers.get('set-cookie')).toMatch(/rm_refresh=;/);
    expect((await t.call('GET', '/v1/me', { token: v.body.access_token as string })).status).toBe(401);
    const again = await t.call('POST', '/v1/auth/refresh', {
      headers: { cookie: `rm_refresh=${cookie}`, ...CSRF },
    });
    expect(again.status).toBe(401);
  });

  it('when there is no cookie and no body token, then refresh answers 401 problem+json', async () => {
    const r = await t.call('POST', '/v1/auth/refresh', { headers: CSRF });
    expect(r.status).toBe(401);
    expect(r.headers.get('content-type')).toContain('application/problem+json');
  });

  it('when a bearer client refreshes with a body token, then it works as before (token pair in the body, no cookie)', async () => {
    const s = await t.signIn('bearer@example.com');
    const r = await t.call('POST', '/v1/auth/refresh', { body: { refresh_token: s.refresh_token } });
    expect(r.status).toBe(200);
    expect(r.body.refresh_token).toEqual(expect.any(String));
    expect(r.headers.get('set-cookie')).toBeNull();
  });
});
