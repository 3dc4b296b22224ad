import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { readFixture } from '../../shared/testing/fixtures.ts';
import { startTcpProxy, type TcpProxy } from '../../shared/testing/tcp-proxy.ts';
import { TEST_PG_ADMIN_URL } from '../../shared/testing/test-db-admin.ts';
import { type HttpResult, type SignIn, startTestApi, type TestApi } from '../testing/api-harness.ts';

/**
 * The API's pool reaches Postgres through a TCP proxy this file cuts: every pooled connection is
 * reset and new ones are refused, as in a Postgres restart or a network partition. Requests that
 * need the database answer 503 `database_unavailable` with Retry-After — never a 500 or a hang —
 * write nothing, and the API recovers by itself when the proxy is back.
 */
let proxy: TcpProxy;
let t: TestApi;
let owner: SignIn;
/** Used before the cut: the auth cache holds it, so a submit reaches the submit's own write. */
let warmKey: string;
/** Never used before the cut: authenticating it reads Postgres. */
let coldKey: string;
/** Signed in before the cut, its access token never used: its session is read from Postgres. */
let coldSession: SignIn;
let render: Record<string, unknown>;
const logs: { level: number; msg: string; reason?: string }[] = [];

beforeAll(async () => {
  const pgServer = new URL(TEST_PG_ADMIN_URL);
  proxy = await startTcpProxy({ host: pgServer.hostname, port: Number(pgServer.port || 5432) });
  const logger = pino({ level: 'warn' }, { write: (line: string) => logs.push(JSON.parse(line)) });
  t = await startTestApi(
    (env) => {
      const url = new URL(env.config.DATABASE_URL);
      url.host = `127.0.0.1:${proxy.port}`;
      // Long enough that the warm key is still cached when the proxy is cut.
      return { DATABASE_URL: url.toString(), AUTH_CACHE_TTL_MS: '300000' };
    },
    { logger },
  );
  owner = await t.signIn('owner@db-down.example.com');
  const key = async (name: string) => {
    const r = await t.call('POST', '/v1/api-keys', {
      token: owner.access_token,
      body: { name, role: 'member' },
    });
    expect(r.status).toBe(201);
    return r.body.key as string;
  };
  warmKey = await key('warm');
  coldKey = await key('cold');
  coldSession = await t.signIn('second@db-down.example.com');
  render = readFixture('render-short');
});
// A failed test must not leave the next one without a database.
afterEach(async () => {
  await proxy.restore();
});
afterAll(async () => {
  await t?.close();
  await proxy?.close();
});

/** Rows a submit writes, read directly (not through the proxy). */
async function rowCounts(): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const table of ['jobs', 'audit_log', 'idempotency_keys', 'job_reservations']) {
    out[table] = Number((await t.env.db(table).count({ n: '*' }))[0]?.n);
  }
  return out;
}

function expectUnavailable(r: HttpResult): void {
  expect(r.status, r.text).toBe(503);
  expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(r.headers.get('retry-after')).toBe('5');
  expect(r.body).toMatchObject({ status: 503, code: 'database_unavailable', title: 'Database unavailable' });
  expect(r.body.request_id).toEqual(expect.any(String));
}

describe('503 database_unavailable', () => {
  it('when Postgres cannot be reached, then requests answer 503 database_unavailable with Retry-After, write nothing, and the API recovers when it is back', async () => {
    const submit = (key = 'db-down-1') =>
      t.call('POST', '/v1/renders', { token: warmKey, body: render, headers: { 'Idempotency-Key': key } });
    expect((await submit('db-up-first')).status).toBe(202);
    const before = await rowCounts();

    await proxy.cut();
    const started = Date.now();
    expectUnavailable(await submit());
    // Connection refused fails fast: the answer does not wait for knex's 10 s acquire timeout.
    expect(Date.now() - started).toBeLessThan(8_000);
    expectUnavailable(await t.call('GET', '/v1/jobs', { token: warmKey }));
    // Authentication itself reads Postgres for a key or session it has not cached.
    expectUnavailable(await t.call('GET', '/v1/jobs', { token: coldKey }));
    expectUnavailable(await t.call('GET', '/v1/me', { token: coldSession.access_token }));
    expectUnavailable(await t.call('GET', '/v1/events', { token: coldKey }));
    // A public operation that reads Postgres.
    expectUnavailable(
      await t.call('POST', '/v1/auth/refresh', { body: { refresh_token: coldSession.refresh_token } }),
    );

    const ready = await t.call('GET', '/readyz');
    expect(ready.status).toBe(503);
    expect(ready.headers.get('retry-after')).toBe('5');
    expect(ready.body).toEqual({ status: 'unavailable', checks: { postgres: 'down', redis: 'ok' } });
    expect((await t.call('GET', '/healthz')).status).toBe(200);

    // Warned and counted, never logged as an unhandled error (which is what Sentry gets).
    const unavailable = logs.filter((l) => l.msg === 'database unavailable');
    expect(unavailable.length).toBeGreaterThanOrEqual(6);
    expect(unavailable.every((l) => l.level === 40 && typeof l.reason === 'string')).toBe(true);
    expect(logs.filter((l) => l.msg === 'unhandled error')).toEqual([]);
    const counted = (await t.api.deps.metrics.databaseUnavailable.get()).values;
    expect(counted.reduce((n, v) => n + v.value, 0)).toBe(unavailable.length);

    await proxy.restore();
    expect(await rowCounts()).toEqual(before);
    const again = await submit();
    expect(again.status, again.text).toBe(202);
    expect(await rowCounts()).toMatchObject({ jobs: before.jobs! + 1 });
    expect((await t.call('GET', '/readyz')).status).toBe(200);
  });

  it('when the connection is terminated mid-statement (57P01), then the submit answers 503 and nothing of it is written', async () => {
    const before = await rowCounts();
    const database = new URL(t.env.config.DATABASE_URL).pathname.slice(1);
    const reasons = async () => (await t.api.deps.metrics.databaseUnavailable.get()).values;
    const terminated = (await reasons()).find((v) => v.labels.reason === '57P01')?.value ?? 0;
    // The submit's insert waits behind this lock, so the API's backend is mid-statement when it is
    // terminated (what a fast or immediate Postgres stop does to every backend).
    const lock = await t.env.db.transaction();
    try {
      await lock.raw('LOCK TABLE jobs IN EXCLUSIVE MODE');
      const pending = t.call('POST', '/v1/renders', { token: warmKey, body: render });
      const waiting = async () =>
        (
          await t.env.db.raw<{ rows: { pid: number }[] }>(
            "SELECT pid FROM pg_stat_activity WHERE datname = ? AND wait_event_type = 'Lock'",
            [database],
          )
        ).rows;
      await expect.poll(async () => (await waiting()).length, { timeout: 10_000 }).toBe(1);
      const [blocked] = await waiting();
      await t.env.db.raw('SELECT pg_terminate_backend(?)', [blocked!.pid]);
      expectUnavailable(await pending);
    } finally {
      await lock.rollback();
    }
    expect((await reasons()).find((v) => v.labels.reason === '57P01')?.value).toBe(terminated + 1);
    expect(await rowCounts()).toEqual(before);
    expect((await t.call('POST', '/v1/renders', { token: warmKey, body: render })).status).toBe(202);
  });
});
