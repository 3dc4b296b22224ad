import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type HttpResult, type SignIn, startTestApi, type TestApi } from '../../testing/api-harness.ts';

let t: TestApi;
beforeAll(async () => {
  t = await startTestApi({
    ACCOUNT_DELETION_GRACE_SECONDS: '3600',
    RATE_LIMIT_PER_MINUTE: '10000',
    RATE_LIMIT_BURST_PER_SECOND: '10000',
  });
});
afterAll(async () => {
  await t.close();
});

/** The entry a call wrote: same request id (X-Request-Id), in the caller's tenant. */
async function entryOf(r: HttpResult, tenantId: string) {
  const requestId = r.headers.get('x-request-id');
  return t.env.db('audit_log').where({ request_id: requestId, tenant_id: tenantId });
}

describe('audit coverage', () => {
  it('when each state-changing endpoint of members, invites, sessions and account is called, then each writes its audit entry', async () => {
    const owner = await t.signIn('owner@coverage.test');
    const spare = await t.signIn('owner@coverage.test');
    const tenant = owner.tenant.id;
    const calls: Array<[string, HttpResult, string]> = [];
    const record = (action: string, r: HttpResult, status: number) => {
      expect(r.status, `${action}: ${r.text}`).toBe(status);
      calls.push([action, r, tenant]);
    };

    const m0 = t.smtp.mails.length;
    const invite = await t.call('POST', '/v1/invites', {
      token: owner.access_token,
      body: { email: 'joiner@coverage.test', role: 'member' },
    });
    record('invite.created', invite, 201);
    const token = await t.linkToken('joiner@coverage.test', m0);
    const joined = await t.call<SignIn>('POST', '/v1/auth/verify', { body: { token } });
    record('member.joined', joined as unknown as HttpResult, 200);
    const doomed = await t.call('POST', '/v1/invites', {
      token: owner.access_token,
      body: { email: 'never@coverage.test', role: 'viewer' },
    });
    record(
      'invite.revoked',
      await t.call('DELETE', `/v1/invites/${doomed.body.id}`, { token: owner.access_token }),
      204,
    );
    const joiner = joined.body.user.id;
    record(
      'member.role_changed',
      await t.call('PATCH', `/v1/members/${joiner}`, { token: owner.access_token, body: { role: 'viewer' } }),
      200,
    );
    record(
      'member.removed',
      await t.call('DELETE', `/v1/members/${joiner}`, { token: owner.access_token }),
      204,
    );
    const sid = JSON.parse(Buffer.from(spare.access_token.split('.')[1]!, 'base64url').toString()).sid;
    record(
      'session.revoked',
      await t.call('DELETE', `/v1/sessions/${sid}`, { token: owner.access_token }),
      204,
    );
    record(
      'account.export_requested',
      await t.call('POST', '/v1/account/export', { token: owner.access_token }),
      202,
    );
    record(
      'account.deletion_scheduled',
      await t.call('POST', '/v1/account/delete', { token: owner.access_token }),
      202,
    );
    record(
      'account.deletion_canceled',
      await t.call('POST', '/v1/account/delete/cancel', { token: owner.access_token }),
      200,
    );

    for (const [action, r, tenantId] of calls) {
      const entries = await entryOf(r, tenantId);
      expect(
        entries.map((e) => e.action),
        action,
      ).toContain(action);
      const entry = entries.find((e) => e.action === action)!;
      expect(entry.ip, action).toBeTruthy();
      expect(entry.actor_type).toBe('user');
    }
    // Every action above is distinct: one missing entry cannot hide behind another.
    expect(new Set(calls.map(([a]) => a)).size).toBe(calls.length);
  });

  it('when a state-changing call is refused, then it writes nothing', async () => {
    const owner = await t.signIn('refused@coverage.test');
    const r = await t.call('PATCH', `/v1/members/${owner.user.id}`, {
      token: owner.access_token,
      body: { role: 'viewer' },
    });
    expect(r.status).toBe(409);
    expect(await entryOf(r, owner.tenant.id)).toEqual([]);
  });
});
