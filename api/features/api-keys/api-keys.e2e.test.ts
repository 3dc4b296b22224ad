import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashSecret } from '../../../shared/crypto/tokens.ts';
import { present } from '../../../shared/testing/present.ts';
import { type SignIn, startTestApi, type TestApi } from '../../testing/api-harness.ts';

interface CreatedKey {
  id: string;
  name: string;
  key: string;
  prefix: string;
  last4: string;
  created_at: string;
}

let t: TestApi;
let owner: SignIn;

beforeAll(async () => {
  // Rate limits have their own tests (api/http); here they would only make the run flaky.
  // AUTH_CACHE_TTL_MS=0: the role below is changed by hand in SQL, behind the API's back, which
  // a caching replica sees only within its TTL (auth-cache.e2e.test.ts); changes made through
  // the API reach every replica at once whatever the TTL (tested there too).
  t = await startTestApi({
    RATE_LIMIT_BURST_PER_SECOND: '1000',
    RATE_LIMIT_PER_MINUTE: '100000',
    AUTH_CACHE_TTL_MS: '0',
  });
  owner = await t.signIn('keys-owner@example.com');
});
afterAll(async () => {
  await t?.close();
});

async function createKey(token: string, name = 'ci'): Promise<CreatedKey> {
  const r = await t.call<CreatedKey>('POST', '/v1/api-keys', { token, body: { name } });
  expect(r.status, r.text).toBe(201);
  return r.body;
}

/** Signs a second user into the owner's tenant with the given role (set directly in the database). */
async function memberWithRole(email: string, role: 'admin' | 'member' | 'viewer'): Promise<SignIn> {
  const s = await t.signIn(email);
  await t.env.db('memberships').insert({ tenant_id: owner.tenant.id, user_id: s.user.id, role });
  return t.signIn(email, { tenantId: owner.tenant.id });
}

describe('API keys', () => {
  it('when an admin creates a key, then it is shown once with its prefix and last4 and works as a bearer', async () => {
    const r = await t.call<CreatedKey>('POST', '/v1/api-keys', {
      token: owner.access_token,
      body: { name: 'deploy bot' },
    });
    expect(r.status).toBe(201);
    const k = r.body;
    expect(k.key).toMatch(/^rm_live_[A-Za-z0-9_-]{40,}$/);
    expect(k.id).toMatch(/^key_/);
    expect(k.name).toBe('deploy bot');
    expect(k.prefix).toBe(k.key.slice(0, k.prefix.length));
    expect(k.prefix.startsWith('rm_live_')).toBe(true);
    expect(k.last4).toBe(k.key.slice(-4));
    expect(Number.isNaN(Date.parse(k.created_at))).toBe(false);

    const me = await t.call('GET', '/v1/me', { token: k.key });
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ tenant: { id: owner.tenant.id }, api_key: { id: k.id }, user: null });

    // Only the hash is stored.
    const row = present(await t.env.db('api_keys').where({ id: k.id }).first());
    expect(row.key_hash).toBe(hashSecret(k.key));
    expect(JSON.stringify(row)).not.toContain(k.key);
  });

  it('when keys are listed, then neither the secret nor its hash appears anywhere in the answer', async () => {
    const k = await createKey(owner.access_token, 'listed');
    const list = await t.call<{ data: Array<Record<string, unknown>>; next_cursor: null }>(
      'GET',
      '/v1/api-keys',
      { token: owner.access_token },
    );
    expect(list.status).toBe(200);
    const entry = list.body.data.find((x) => x.id === k.id);
    expect(entry).toMatchObject({ id: k.id, name: 'listed', prefix: k.prefix, last4: k.last4 });
    expect(list.text).not.toContain(k.key);
    expect(list.text).not.toContain(hashSecret(k.key));
    expect(list.text).not.toContain('key_hash');
    expect(list.body.next_cursor).toBeNull();
  });

  it('when a key is used, then its last_used_at is set', async () => {
    const k = await createKey(owner.access_token, 'used');
    const before = present(await t.env.db('api_keys').where({ id: k.id }).first());
    expect(before.last_used_at).toBeNull();
    expect((await t.call('GET', '/v1/me', { token: k.key })).status).toBe(200);
    // The touch runs after the request is answered.
    await expect
      .poll(async () => present(await t.env.db('api_keys').where({ id: k.id }).first()).last_used_at, {
        timeout: 3_000,
      })
      .toBeInstanceOf(Date);
    const list = await t.call<{ data: Array<{ id: string; last_used_at: string | null }> }>(
      'GET',
      '/v1/api-keys',
      { token: owner.access_token },
    );
    expect(list.body.data.find((x) => x.id === k.id)?.last_used_at).toEqual(expect.any(String));
  });

  it('when a key is rotated, then the new key works and the old one answers 401', async () => {
    const old = await createKey(owner.access_token, 'rotating');
    const r = await t.call<CreatedKey>('POST', `/v1/api-keys/${old.id}/rotate`, {
      token: owner.access_token,
    });
    expect(r.status).toBe(201);
    expect(r.body.key).toMatch(/^rm_live_/);
    expect(r.body.key).not.toBe(old.key);
    expect(r.body.id).not.toBe(old.id);
    expect(r.body.name).toBe('rotating');
    expect(r.body.last4).toBe(r.body.key.slice(-4));

    expect((await t.call('GET', '/v1/me', { token: r.body.key })).status).toBe(200);
    const stale = await t.call('GET', '/v1/me', { token: old.key });
    expect(stale.status).toBe(401);
    expect(stale.body.code).toBe('unauthenticated');
    // A rotated key cannot be rotated again.
    expect(
      (await t.call('POST', `/v1/api-keys/${old.id}/rotate`, { token: owner.access_token })).status,
    ).toBe(404);
  });

  it('when a key is deleted, then it answers 401 and a second delete answers 404', async () => {
    const k = await createKey(owner.access_token, 'doomed');
    const del = await t.call('DELETE', `/v1/api-keys/${k.id}`, { token: owner.access_token });
    expect(del.status).toBe(204);
    expect(del.text).toBe('');
    expect((await t.call('GET', '/v1/me', { token: k.key })).status).toBe(401);
    const again = await t.call('DELETE', `/v1/api-keys/${k.id}`, { token: owner.access_token });
    expect(again.status).toBe(404);
    expect(again.body.code).toBe('not_found');
    const list = await t.call('GET', '/v1/api-keys', { token: owner.access_token });
    expect(list.text).not.toContain(k.id);
  });

  it("when another tenant's key id is used, then every key route answers 404 and the key keeps working", async () => {
    const other = await t.signIn('keys-other-tenant@example.com');
    expect(other.tenant.id).not.toBe(owner.tenant.id);
    const theirs = await createKey(other.access_token, 'theirs');

    const del = await t.call('DELETE', `/v1/api-keys/${theirs.id}`, { token: owner.access_token });
    expect(del.status).toBe(404);
    expect(del.headers.get('content-type')).toContain('application/problem+json');
    expect(
      (await t.call('POST', `/v1/api-keys/${theirs.id}/rotate`, { token: owner.access_token })).status,
    ).toBe(404);
    const mine = await t.call('GET', '/v1/api-keys', { token: owner.access_token });
    expect(mine.text).not.toContain(theirs.id);
    expect((await t.call('GET', '/v1/me', { token: theirs.key })).status).toBe(200);
  });

  it('when a viewer or a member manages keys, then create, list, rotate and delete answer 403 problem+json', async () => {
    const k = await createKey(owner.access_token, 'guarded');
    for (const role of ['viewer', 'member'] as const) {
      const s = await memberWithRole(`keys-${role}@example.com`, role);
      expect(s.tenant.id).toBe(owner.tenant.id);
      expect(s.role).toBe(role);
      const attempts = [
        await t.call('POST', '/v1/api-keys', { token: s.access_token, body: { name: 'nope' } }),
        await t.call('GET', '/v1/api-keys', { token: s.access_token }),
        await t.call('POST', `/v1/api-keys/${k.id}/rotate`, { token: s.access_token }),
        await t.call('DELETE', `/v1/api-keys/${k.id}`, { token: s.access_token }),
      ];
      for (const r of attempts) {
        expect(r.status, `${role}: ${r.text}`).toBe(403);
        expect(r.headers.get('content-type')).toContain('application/problem+json');
        expect(r.body).toMatchObject({ code: 'forbidden', status: 403 });
      }
    }
    // Nothing was created by the refused calls, and the guarded key still works.
    expect(await t.env.db('api_keys').where({ tenant_id: owner.tenant.id, name: 'nope' })).toHaveLength(0);
    expect((await t.call('GET', '/v1/me', { token: k.key })).status).toBe(200);
  });

  it('when a role is lowered in the database, then the next request already sees it', async () => {
    const s = await memberWithRole('keys-demoted@example.com', 'admin');
    expect((await t.call('GET', '/v1/api-keys', { token: s.access_token })).status).toBe(200);
    await t.env
      .db('memberships')
      .update({ role: 'viewer' })
      .where({ tenant_id: owner.tenant.id, user_id: s.user.id });
    expect((await t.call('GET', '/v1/api-keys', { token: s.access_token })).status).toBe(403);
  });

  it('when a key with the member role calls the key routes, then it is refused', async () => {
    const k = await createKey(owner.access_token, 'member key');
    const r = await t.call('POST', '/v1/api-keys', { token: k.key, body: { name: 'escalate' } });
    expect(r.status).toBe(403);
  });

  it('when keys are created, rotated and deleted, then each action wrote an audit row with request id and ip', async () => {
    const created = await t.call<CreatedKey>('POST', '/v1/api-keys', {
      token: owner.access_token,
      body: { name: 'audited' },
    });
    const rotated = await t.call<CreatedKey>('POST', `/v1/api-keys/${created.body.id}/rotate`, {
      token: owner.access_token,
    });
    const deleted = await t.call('DELETE', `/v1/api-keys/${rotated.body.id}`, { token: owner.access_token });
    expect([created.status, rotated.status, deleted.status]).toEqual([201, 201, 204]);

    const expected = [
      { res: created, action: 'api_key.created', target: created.body.id },
      { res: rotated, action: 'api_key.rotated', target: rotated.body.id },
      { res: deleted, action: 'api_key.deleted', target: rotated.body.id },
    ];
    for (const e of expected) {
      const requestId = e.res.headers.get('x-request-id');
      expect(requestId).toBeTruthy();
      const rows = await t.env.db('audit_log').where({ request_id: requestId });
      expect(rows, e.action).toHaveLength(1);
      expect(rows[0]).toMatchObject({
        tenant_id: owner.tenant.id,
        actor_type: 'user',
        actor_id: owner.user.id,
        action: e.action,
        target_type: 'api_key',
        target_id: e.target,
      });
      expect(present(rows[0]).ip).toMatch(/127\.0\.0\.1|::1/);
    }
    const rotation = present(
      await t.env.db('audit_log').where({ action: 'api_key.rotated', target_id: rotated.body.id }).first(),
    );
    expect(rotation.metadata).toEqual({ replaces: created.body.id });
  });
});
