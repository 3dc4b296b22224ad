import { once } from 'node:events';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiProcess, start } from '../main.ts';
import { type HttpResult, type SignIn, startTestApi, type TestApi } from '../testing/api-harness.ts';

let t: TestApi;
beforeAll(async () => {
  t = await startTestApi();
});
afterAll(async () => {
  await t?.close();
});

function expectProblem(r: HttpResult, status: number, code: string): void {
  expect(r.status, r.text).toBe(status);
  expect(r.headers.get('content-type')).toContain('application/problem+json');
  expect(r.body).toMatchObject({ status, code, request_id: r.headers.get('x-request-id') });
  expect(typeof r.body.title).toBe('string');
  expect(typeof r.body.type).toBe('string');
}

describe('bad input', () => {
  it('when the email is invalid, then 400 validation_failed names the /email field', async () => {
    const r = await t.call('POST', '/v1/auth/magic-link', { body: { email: 'not-an-email' } });
    expectProblem(r, 400, 'validation_failed');
    const errors = r.body.errors as Array<{ path: string; message: string }>;
    expect(errors[0]?.path).toBe('/email');
    expect(errors[0]?.message).toEqual(expect.any(String));
  });

  it('when the body is missing, not an object or not JSON, then 400 validation_failed', async () => {
    for (const raw of ['null', '[]', '"x"']) {
      expectProblem(await t.call('POST', '/v1/auth/magic-link', { raw }), 400, 'validation_failed');
    }
    const plain = await t.call('POST', '/v1/auth/magic-link', {
      raw: 'email=a@example.com',
      headers: { 'content-type': 'text/plain' },
    });
    expectProblem(plain, 400, 'validation_failed');
  });

  it('when the JSON is malformed, then 400 problem+json', async () => {
    const r = await t.call('POST', '/v1/auth/magic-link', { raw: '{"email": "a@example.com",' });
    expectProblem(r, 400, 'validation_failed');
  });

  it('when the body is over 1 MB, then 413 payload_too_large', async () => {
    const big = JSON.stringify({ email: 'big@example.com', pad: 'x'.repeat(1024 * 1024 + 10) });
    expectProblem(await t.call('POST', '/v1/auth/magic-link', { raw: big }), 413, 'payload_too_large');

    // Without a Content-Length (chunked), the limit holds while reading.
    const chunk = new TextEncoder().encode(`"${'y'.repeat(64 * 1024)}",`);
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(new TextEncoder().encode('{"pad":['));
        for (let i = 0; i < 20; i++) c.enqueue(chunk);
        c.enqueue(new TextEncoder().encode('"z"]}'));
        c.close();
      },
    });
    const res = await fetch(`${t.api.url}/v1/auth/magic-link`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: stream,
      duplex: 'half',
    } as RequestInit);
    expect(res.status).toBe(413);
    expect(((await res.json()) as { code: string }).code).toBe('payload_too_large');

    // The server is fine afterwards.
    expect((await t.call('GET', '/healthz')).status).toBe(200);
  });

  it('when a body just under 1 MB arrives, then it is parsed and validated normally', async () => {
    const body = JSON.stringify({ email: 'not-an-email', pad: 'x'.repeat(1000 * 1000) });
    const r = await t.call('POST', '/v1/auth/magic-link', { raw: body });
    expectProblem(r, 400, 'validation_failed');
  });
});

describe('routing and headers', () => {
  it('when a route does not exist, then 404 problem+json (401 first under /v1 without a token)', async () => {
    expectProblem(await t.call('GET', '/nope'), 404, 'not_found');
    expectProblem(await t.call('DELETE', '/healthz'), 404, 'not_found');
    expectProblem(await t.call('GET', '/v1/nope'), 401, 'unauthenticated');
    const s = await t.signIn('router@example.com');
    expectProblem(await t.call('GET', '/v1/nope', { token: s.access_token }), 404, 'not_found');
  });

  it('when any request is answered, errors included, then it carries X-Request-Id', async () => {
    const answers = [
      await t.call('GET', '/healthz'),
      await t.call('GET', '/readyz'),
      await t.call('GET', '/metrics'),
      await t.call('GET', '/nope'),
      await t.call('GET', '/v1/me'),
      await t.call('POST', '/v1/auth/magic-link', { raw: '{' }),
      await t.call('POST', '/v1/auth/verify', { body: { token: 'x'.repeat(43) } }),
    ];
    const ids = answers.map((r) => r.headers.get('x-request-id'));
    for (const id of ids) expect(id).toMatch(/^req_[0-9a-f]{32}$/);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('when a proxy sends a well-formed X-Request-Id, then it is kept; a malformed one is replaced', async () => {
    const kept = await t.call('GET', '/nope', { headers: { 'x-request-id': 'edge-proxy-12345678' } });
    expect(kept.headers.get('x-request-id')).toBe('edge-proxy-12345678');
    expect(kept.body.request_id).toBe('edge-proxy-12345678');
    const replaced = await t.call('GET', '/healthz', { headers: { 'x-request-id': 'bad id\twith<html>' } });
    expect(replaced.headers.get('x-request-id')).toMatch(/^req_/);
  });

  it('when any response is sent, then helmet security headers are on it and X-Powered-By is not', async () => {
    for (const r of [await t.call('GET', '/healthz'), await t.call('GET', '/nope')]) {
      expect(r.headers.get('content-security-policy')).toContain("default-src 'self'");
      // PUBLIC_URL is plain http here: upgrading the sign-in form's post to https would break it.
      expect(r.headers.get('content-security-policy')).not.toContain('upgrade-insecure-requests');
      expect(r.headers.get('x-content-type-options')).toBe('nosniff');
      expect(r.headers.get('strict-transport-security')).toContain('max-age=');
      expect(r.headers.get('x-frame-options')).toBe('SAMEORIGIN');
      expect(r.headers.get('referrer-policy')).toBe('no-referrer');
      expect(r.headers.get('cross-origin-opener-policy')).toBe('same-origin');
      expect(r.headers.get('x-powered-by')).toBeNull();
    }
  });
});

describe('rate limits', () => {
  let rl: TestApi;
  let second: ApiProcess;
  beforeAll(async () => {
    rl = await startTestApi({
      MAGIC_LINK_PER_EMAIL: '2',
      MAGIC_LINK_PER_IP: '4',
      RATE_LIMIT_BURST_PER_SECOND: '3',
      RATE_LIMIT_PER_MINUTE: '5',
    });
    // A second replica: same database, same Redis prefix, same secrets.
    second = await start(rl.env.configWith({}));
  });
  afterAll(async () => {
    await second?.stop();
    await rl?.close();
  });

  // Loopback is a trusted proxy (TRUST_PROXY=loopback), so X-Forwarded-For gives each test its own client IP.
  const from = (ip: string) => ({ 'x-forwarded-for': ip });

  async function magicLink(url: string, email: string, ip: string): Promise<HttpResult> {
    const res = await fetch(`${url}/v1/auth/magic-link`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...from(ip) },
      body: JSON.stringify({ email }),
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, text, body: JSON.parse(text) };
  }

  async function signInFrom(email: string, ip: string): Promise<SignIn> {
    const before = rl.smtp.mails.length;
    expect((await magicLink(rl.api.url, email, ip)).status).toBe(202);
    const token = await rl.linkToken(email, before);
    const v = await rl.call<SignIn>('POST', '/v1/auth/verify', { body: { token } });
    expect(v.status).toBe(200);
    return v.body;
  }

  function expectRateLimited(r: HttpResult, maxRetryAfter: number): void {
    expectProblem(r, 429, 'rate_limited');
    const retryAfter = Number(r.headers.get('retry-after'));
    expect(Number.isInteger(retryAfter)).toBe(true);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(maxRetryAfter);
  }

  it('when one address asks for more links than allowed, then 429 with Retry-After and no more mail', async () => {
    const email = 'flood@example.com';
    expect((await magicLink(rl.api.url, email, '203.0.113.1')).status).toBe(202);
    // Case and surrounding spaces do not make a new address; other IPs do not help either.
    expect((await magicLink(rl.api.url, ' FLOOD@example.com', '203.0.113.2')).status).toBe(202);
    const third = await magicLink(rl.api.url, email, '203.0.113.3');
    expectRateLimited(third, 15 * 60);
    await rl.api.deps.auth.drain();
    expect(rl.smtp.mails.filter((m) => m.to.includes(email))).toHaveLength(2);
  });

  it('when one IP asks for links for many addresses, then it is limited per IP', async () => {
    for (let i = 0; i < 4; i++) {
      expect((await magicLink(rl.api.url, `spray${i}@example.com`, '198.51.100.7')).status).toBe(202);
    }
    expectRateLimited(await magicLink(rl.api.url, 'spray4@example.com', '198.51.100.7'), 15 * 60);
    // Another client is not affected.
    expect((await magicLink(rl.api.url, 'spray4@example.com', '198.51.100.8')).status).toBe(202);
  });

  it('when a caller bursts past the per-second limit, then 429 with Retry-After 1 and it recovers', async () => {
    const s = await signInFrom('burst@example.com', '192.0.2.10');
    const answers = await Promise.all(
      Array.from({ length: 10 }, () => rl.call('GET', '/v1/me', { token: s.access_token })),
    );
    const limited = answers.filter((r) => r.status === 429);
    expect(limited.length).toBeGreaterThan(0);
    expect(answers.filter((r) => r.status === 200).length).toBeLessThanOrEqual(3 * 2);
    for (const r of limited) {
      expectRateLimited(r, 1);
      expect(r.headers.get('retry-after')).toBe('1');
    }
    await new Promise((r) => setTimeout(r, 1_100));
    expect((await rl.call('GET', '/v1/me', { token: s.access_token })).status).toBe(200);
  });

  it('when two API replicas share a Redis prefix, then a magic-link limit counts requests to both', async () => {
    const email = 'replicas@example.com';
    expect((await magicLink(rl.api.url, email, '203.0.113.20')).status).toBe(202);
    expect((await magicLink(second.url, email, '203.0.113.21')).status).toBe(202);
    // Each replica alone has seen one request; together the limit of 2 is reached.
    expectRateLimited(await magicLink(second.url, email, '203.0.113.22'), 15 * 60);
    expectRateLimited(await magicLink(rl.api.url, email, '203.0.113.23'), 15 * 60);
  });

  it('when two API replicas share a Redis prefix, then the per-minute API limit counts calls to both', async () => {
    const s = await signInFrom('replica-minute@example.com', '192.0.2.20');
    const urls = [rl.api.url, second.url];
    // 5 calls per minute, paced under the burst limit, alternating replicas: neither sees more than 3.
    for (let i = 0; i < 5; i++) {
      const res = await fetch(`${urls[i % 2]}/v1/me`, {
        headers: { authorization: `Bearer ${s.access_token}` },
      });
      expect(res.status, `call ${i + 1}`).toBe(200);
      await new Promise((r) => setTimeout(r, 400));
    }
    const res = await fetch(`${second.url}/v1/me`, {
      headers: { authorization: `Bearer ${s.access_token}` },
    });
    const text = await res.text();
    expectRateLimited({ status: res.status, headers: res.headers, text, body: JSON.parse(text) }, 60);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(1);
  });
});

describe('readiness', () => {
  async function timedReadyz(
    url: string,
  ): Promise<{ status: number; ms: number; body: unknown; headers: Headers }> {
    const started = performance.now();
    const res = await fetch(`${url}/readyz`);
    const body = await res.json();
    return { status: res.status, ms: performance.now() - started, body, headers: res.headers };
  }

  it('when Postgres and Redis answer, then /readyz is 200 and /healthz is 200', async () => {
    const r = await timedReadyz(t.api.url);
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ status: 'ok', checks: { postgres: 'ok', redis: 'ok' } });
    expect((await t.call('GET', '/healthz')).body).toEqual({ status: 'ok' });
  });

  it('when Redis refuses connections, then /readyz answers 503 within 1 s and /healthz stays 200', async () => {
    // Same env (database, secrets); only this API process gets a Redis URL nothing listens on.
    const down = await start(t.env.configWith({ REDIS_URL: 'redis://127.0.0.1:1/0' }));
    try {
      for (let i = 0; i < 2; i++) {
        const r = await timedReadyz(down.url);
        expect(r.status).toBe(503);
        expect(r.ms).toBeLessThan(1_000);
        expect(r.headers.get('retry-after')).toBeTruthy();
        expect(r.body).toMatchObject({ status: 'unavailable', checks: { postgres: 'ok', redis: 'down' } });
      }
      expect((await fetch(`${down.url}/healthz`)).status).toBe(200);
    } finally {
      await down.stop();
    }
  });

  it('when Postgres and Redis accept connections but never answer, then /readyz answers 503 within 1 s', async () => {
    // A black hole: accepts TCP connections and never says a word.
    const sockets = new Set<net.Socket>();
    const hole = net.createServer((s) => {
      sockets.add(s);
      s.on('error', () => {});
    });
    hole.listen(0, '127.0.0.1');
    await once(hole, 'listening');
    const port = (hole.address() as net.AddressInfo).port;
    const down = await start(
      t.env.configWith({
        REDIS_URL: `redis://127.0.0.1:${port}/0`,
        DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/rendermill`,
      }),
    );
    try {
      const r = await timedReadyz(down.url);
      expect(r.status).toBe(503);
      expect(r.ms).toBeLessThan(1_000);
      expect(r.body).toMatchObject({ status: 'unavailable', checks: { postgres: 'down', redis: 'down' } });
    } finally {
      for (const s of sockets) s.destroy();
      hole.close();
      await down.stop();
    }
  });
});

describe('logs', () => {
  it('when a user signs in, refreshes and logs out, then no log line holds the address or a token', async () => {
    // pino writes to process.stdout when its write has been replaced before the logger is built.
    const lines: string[] = [];
    const original = process.stdout.write;
    process.stdout.write = ((chunk: string | Uint8Array) => {
      lines.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
      return true;
    }) as typeof process.stdout.write;
    let logged: TestApi | undefined;
    let secrets: string[] = [];
    const email = 'Log.Secret.Person@Example.com';
    try {
      logged = await startTestApi({ LOG_LEVEL: 'debug' });
      const a = logged;
      expect((await a.call('POST', '/v1/auth/magic-link', { body: { email } })).status).toBe(202);
      const token = await a.linkToken(email.toLowerCase());
      expect((await a.call('GET', `/v1/auth/verify?token=${token}`)).status).toBe(200);
      const v = await a.call<SignIn>('POST', '/v1/auth/verify', { body: { token } });
      expect(v.status).toBe(200);
      // A reused token and bad input are logged too; they must not echo what was sent.
      expect((await a.call('POST', '/v1/auth/verify', { body: { token } })).status).toBe(401);
      expect(
        (await a.call('POST', '/v1/auth/magic-link', { body: { email: `${email.toLowerCase()}@x` } })).status,
      ).toBe(400);
      const r = await a.call<SignIn>('POST', '/v1/auth/refresh', {
        body: { refresh_token: v.body.refresh_token },
      });
      expect(r.status).toBe(200);
      const key = await a.call<{ key: string }>('POST', '/v1/api-keys', {
        token: r.body.access_token,
        body: { name: 'log' },
      });
      expect(key.status).toBe(201);
      expect((await a.call('GET', '/v1/me', { token: key.body.key })).status).toBe(200);
      expect(
        (await a.call('POST', '/v1/auth/logout', { body: { refresh_token: r.body.refresh_token } })).status,
      ).toBe(204);
      // Reuse of the rotated token logs a warning about its family.
      expect(
        (await a.call('POST', '/v1/auth/refresh', { body: { refresh_token: v.body.refresh_token } })).status,
      ).toBe(401);
      await a.api.deps.auth.drain();
      secrets = [
        token,
        v.body.access_token,
        v.body.refresh_token,
        r.body.refresh_token,
        r.body.access_token,
        key.body.key,
      ];
    } finally {
      // Closed while still capturing: shutdown lines are checked too.
      await logged?.close().catch(() => {});
      process.stdout.write = original;
    }

    const text = lines.join('');
    // The capture worked: request lines and the masked address are there.
    expect(text).toContain('"msg":"request"');
    expect(text).toContain('"path":"/v1/auth/verify"');
    expect(text).toContain('l***@e***.com');
    expect(text).toContain('refresh token reuse');
    const lower = text.toLowerCase();
    expect(lower).not.toContain('log.secret.person');
    expect(lower).not.toContain('@example.com');
    for (const secret of secrets) expect(text).not.toContain(secret);
    expect(text).not.toContain('token=');
  });
});
