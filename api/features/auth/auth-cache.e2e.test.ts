import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiProcess, start } from '../../main.ts';
import type { SignIn } from '../../testing/api-harness.ts';
import { type BillingTestKit, startBillingTestKit, stripeEvent } from '../billing/billing-test-kit.ts';

/**
 * Two API replicas on one Postgres and one Redis. Each caches API keys, sessions and tenants'
 * plans (auth-cache.ts); every change that revokes or re-scopes access is made on replica A and
 * must hold on replica B's very next request, whose cache was warm.
 */
let k: BillingTestKit;
let b: ApiProcess;
let n = 0;
const email = (what: string) => `${what}-${++n}@cache.example.com`;

beforeAll(async () => {
  k = await startBillingTestKit();
  b = await start(k.t.env.config);
});
afterAll(async () => {
  await b?.stop();
  await k?.close();
});

/** A request to replica B; answers are checked against the served contract like A's. */
async function onB(method: string, path: string, opts: { token: string; body?: unknown }) {
  const res = await fetch(`${b.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${opts.token}`,
      ...(opts.body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
  });
  const text = await res.text();
  k.t.contract.check({
    method,
    path,
    status: res.status,
    contentType: res.headers.get('content-type'),
    text,
  });
  return { status: res.status, body: text ? JSON.parse(text) : {} };
}

async function apiKey(owner: SignIn, name = 'cache'): Promise<{ id: string; key: string }> {
  const r = await k.t.call<{ id: string; key: string }>('POST', '/v1/api-keys', {
    token: owner.access_token,
    body: { name },
  });
  expect(r.status).toBe(201);
  return r.body;
}

/** A second user in the owner's tenant with `role`, signed in there. */
async function member(owner: SignIn, role: 'admin' | 'member' | 'viewer'): Promise<SignIn> {
  const address = email(role);
  const s = await k.t.signIn(address);
  await k.t.env.db('memberships').insert({ tenant_id: owner.tenant.id, user_id: s.user.id, role });
  return k.t.signIn(address, { tenantId: owner.tenant.id });
}

/** Calls B until its cache holds the credential, and checks it then answers `status`. */
async function warm(token: string, path = '/v1/me', status = 200) {
  for (let i = 0; i < 3; i++) expect((await onB('GET', path, { token })).status).toBe(status);
}

const render = (resolution = '720p') => ({ scenes: [{ duration: 2, title: 'Card' }], resolution });

describe('auth cache across replicas', () => {
  it('when a key is used again and again, then the replica reads it from Postgres once', async () => {
    const owner = await k.t.signIn(email('owner'));
    const { key } = await apiKey(owner);
    await warm(key);
    // The first submit reads the tenant's plan and endpoint; later ones find them cached.
    expect((await onB('POST', '/v1/renders', { token: key, body: render() })).status).toBe(202);
    const reads: string[] = [];
    const listen = (q: { sql: string }) => {
      if (/from "api_keys"|from "tenants"|from "sessions"/.test(q.sql)) reads.push(q.sql);
    };
    b.deps.db.on('query', listen);
    try {
      for (let i = 0; i < 5; i++)
        expect((await onB('POST', '/v1/renders', { token: key, body: render() })).status).toBe(202);
    } finally {
      b.deps.db.off('query', listen);
    }
    expect(reads).toEqual([]);
  });

  it('when a key is deleted on one replica, then the next request with it on another is 401', async () => {
    const owner = await k.t.signIn(email('owner'));
    const { id, key } = await apiKey(owner);
    await warm(key);
    expect((await k.t.call('DELETE', `/v1/api-keys/${id}`, { token: owner.access_token })).status).toBe(204);
    expect((await onB('GET', '/v1/me', { token: key })).status).toBe(401);
  });

  it('when a key is rotated on one replica, then the old key is 401 on another and the new one works', async () => {
    const owner = await k.t.signIn(email('owner'));
    const old = await apiKey(owner);
    await warm(old.key);
    const rotated = await k.t.call<{ key: string }>('POST', `/v1/api-keys/${old.id}/rotate`, {
      token: owner.access_token,
    });
    expect(rotated.status).toBe(201);
    expect((await onB('GET', '/v1/me', { token: old.key })).status).toBe(401);
    expect((await onB('GET', '/v1/me', { token: rotated.body.key })).status).toBe(200);
  });

  it('when a session logs out on one replica, then its access token is 401 on another', async () => {
    const s = await k.t.signIn(email('user'));
    await warm(s.access_token);
    const out = await k.t.call('POST', '/v1/auth/logout', { body: { refresh_token: s.refresh_token } });
    expect(out.status).toBe(204);
    expect((await onB('GET', '/v1/me', { token: s.access_token })).status).toBe(401);
  });

  it('when a user logs out everywhere on one replica, then every token of theirs is 401 on another', async () => {
    const address = email('user');
    const first = await k.t.signIn(address);
    const second = await k.t.signIn(address);
    await warm(first.access_token);
    await warm(second.access_token);
    expect((await k.t.call('POST', '/v1/auth/logout-all', { token: first.access_token })).status).toBe(204);
    expect((await onB('GET', '/v1/me', { token: first.access_token })).status).toBe(401);
    expect((await onB('GET', '/v1/me', { token: second.access_token })).status).toBe(401);
  });

  it('when one session is ended from the sessions list, then its token is 401 on another replica', async () => {
    const address = email('user');
    const keep = await k.t.signIn(address);
    const end = await k.t.signIn(address);
    await warm(end.access_token);
    const sessions = await k.t.call<{ data: Array<{ id: string; current: boolean }> }>(
      'GET',
      '/v1/sessions',
      {
        token: keep.access_token,
      },
    );
    const other = sessions.body.data.find((x) => !x.current);
    expect(other).toBeDefined();
    expect((await k.t.call('DELETE', `/v1/sessions/${other!.id}`, { token: keep.access_token })).status).toBe(
      204,
    );
    expect((await onB('GET', '/v1/me', { token: end.access_token })).status).toBe(401);
    expect((await onB('GET', '/v1/me', { token: keep.access_token })).status).toBe(200);
  });

  it('when a role is lowered on one replica, then the next request on another has the new role', async () => {
    const owner = await k.t.signIn(email('owner'));
    const admin = await member(owner, 'admin');
    await warm(admin.access_token, '/v1/api-keys');
    const r = await k.t.call('PATCH', `/v1/members/${admin.user.id}`, {
      token: owner.access_token,
      body: { role: 'viewer' },
    });
    expect(r.status).toBe(200);
    expect((await onB('GET', '/v1/api-keys', { token: admin.access_token })).status).toBe(403);
    expect((await onB('GET', '/v1/me', { token: admin.access_token })).body.role).toBe('viewer');
  });

  it('when a member is removed on one replica, then their token is 401 on another', async () => {
    const owner = await k.t.signIn(email('owner'));
    const leaver = await member(owner, 'member');
    await warm(leaver.access_token);
    expect(
      (await k.t.call('DELETE', `/v1/members/${leaver.user.id}`, { token: owner.access_token })).status,
    ).toBe(204);
    expect((await onB('GET', '/v1/me', { token: leaver.access_token })).status).toBe(401);
  });

  it('when a Stripe webhook upgrades the plan on one replica, then the next submit on another has its limits', async () => {
    const owner = await k.t.signIn(email('owner'));
    await k.t.call('POST', '/v1/billing/portal', { token: owner.access_token });
    const customer = (await k.t.env.db('tenants').where({ id: owner.tenant.id }).first())?.stripe_customer_id;
    expect(customer).toBeTruthy();
    const { key } = await apiKey(owner);
    // B caches the tenant's plan: free, which stops below 2160p.
    for (let i = 0; i < 2; i++)
      expect((await onB('POST', '/v1/renders', { token: key, body: render('2160p') })).status).toBe(403);
    const event = stripeEvent('checkout.session.completed', {
      id: `cs_test_cache_${n}`,
      object: 'checkout.session',
      mode: 'subscription',
      customer,
      subscription: `sub_cache_${n}`,
      client_reference_id: owner.tenant.id,
      metadata: { tenant_id: owner.tenant.id, plan: 'pro' },
    });
    expect((await k.deliver(event)).status).toBe(200);
    expect((await onB('POST', '/v1/renders', { token: key, body: render('2160p') })).status).toBe(202);
  });

  it('when the default endpoint changes on one replica, then the next submit on another announces to the new one', async () => {
    const owner = await k.t.signIn(email('owner'));
    const { key } = await apiKey(owner);
    expect((await onB('POST', '/v1/renders', { token: key, body: render() })).status).toBe(202);
    const put = await k.t.call('PUT', '/v1/webhook-endpoint', {
      token: owner.access_token,
      body: { url: 'https://hooks.example.com/queued', events: ['job.queued'] },
    });
    expect(put.status).toBe(200);
    const r = await onB('POST', '/v1/renders', { token: key, body: render() });
    expect(r.status).toBe(202);
    const deliveries = await k.t.env.db('webhook_deliveries').where({ job_id: r.body.id });
    expect(deliveries.map((d) => [d.url, d.event])).toEqual([
      ['https://hooks.example.com/queued', 'job.queued'],
    ]);
  });
});

describe('auth cache and changes made behind the API', () => {
  it('when a role is lowered by hand in SQL, then requests see it within AUTH_CACHE_TTL_MS', async () => {
    const c = await start({ ...k.t.env.config, AUTH_CACHE_TTL_MS: 300 });
    try {
      const owner = await k.t.signIn(email('owner'));
      const admin = await member(owner, 'admin');
      const call = async () =>
        (await fetch(`${c.url}/v1/api-keys`, { headers: { authorization: `Bearer ${admin.access_token}` } }))
          .status;
      expect(await call()).toBe(200);
      const changed = Date.now();
      await k.t.env
        .db('memberships')
        .update({ role: 'viewer' })
        .where({ tenant_id: owner.tenant.id, user_id: admin.user.id });
      await expect.poll(call, { timeout: 5_000, interval: 50 }).toBe(403);
      // Within the TTL, with room for a loaded machine.
      expect(Date.now() - changed).toBeLessThan(2_000);
    } finally {
      await c.stop();
    }
  });
});
