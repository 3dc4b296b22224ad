import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROLES, roleAtLeast } from '../../shared/auth/roles.ts';
import {
  createWorld,
  KEY_ROLES,
  minRole,
  needsBearer,
  pathParamNames,
  userOnly,
  type World,
} from '../testing/contract-world.ts';

/**
 * Tenant isolation and roles, for every operation of the document: B's credentials never reach
 * A's ids, each role below an operation's minimum is refused, the minimum gets through, both as a
 * session and as an API key of that role (and keys are refused on user-only operations).
 */
describe('contract access: tenant isolation and roles for every operation', () => {
  let w: World;
  const counts = {
    isolation: new Map<string, number>(),
    roles: new Map<string, number>(),
    apiKeyRoles: new Map<string, number>(),
  };
  const count = (m: Map<string, number>, id: string) => m.set(id, (m.get(id) ?? 0) + 1);
  beforeAll(async () => {
    w = await createWorld();
  });
  afterAll(async () => {
    for (const [suite, m] of Object.entries(counts)) {
      const total = [...m.values()].reduce((a, b) => a + b, 0);
      const lines = [...m.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([id, n]) => `  ${id}: ${n}`);
      console.log(`contract ${suite}: ${total} cases over ${m.size} operations\n${lines.join('\n')}`);
    }
    await w?.close();
  });

  it("when tenant B's session and API key use tenant A's ids, then every method answers 404 and shows none of A's data", async () => {
    const withIds = w.ops.filter((o) => pathParamNames(o).length > 0 && needsBearer(o));
    expect(withIds.length).toBeGreaterThanOrEqual(9);
    for (const o of withIds) {
      for (const principal of [w.tenantB.session, w.tenantB.apiKey]) {
        count(counts.isolation, o.operationId);
        // A's ids, but not fresh ones: a leak would consume a resource A's other checks use.
        const plan = await w.validRequest(o, principal, false);
        const r = await w.send({ ...plan, token: principal.token });
        const what = `${o.operationId} as ${principal.label}: ${r.status} ${r.text.slice(0, 200)}`;
        if (userOnly(o) && principal === w.tenantB.apiKey) {
          expect(r.status, what).toBe(403); // keys have no sessions: refused before any lookup
        } else {
          expect(r.status, what).toBe(404);
          expect(r.body.code, what).toBe('not_found');
        }
        expect(r.text, what).not.toContain(w.tenantA);
        expect(r.text, what).not.toContain(w.ownerEmailA);
      }
    }
    // And A's resources are all still there.
    const owner = w.sessionsA.owner.token;
    const keys = await w.t.call<{ data: Array<{ id: string }> }>('GET', '/v1/api-keys', { token: owner });
    expect(keys.body.data.map((k) => k.id)).toContain(w.idsA.apiKey);
    const members = await w.t.call<{ data: Array<{ user_id: string; role: string }> }>(
      'GET',
      '/v1/members?limit=100',
      { token: owner },
    );
    expect(members.body.data.find((m) => m.user_id === w.idsA.member)?.role).toBe('viewer');
    expect((await w.t.call('GET', `/v1/jobs/${w.idsA.job}`, { token: owner })).body.status).toBe('queued');
    const invites = await w.t.call<{ data: Array<{ id: string }> }>('GET', '/v1/invites', { token: owner });
    expect(invites.body.data.map((i) => i.id)).toContain(w.idsA.invite);
  });

  const passesGate = (status: number, code: unknown) =>
    status < 500 && status !== 401 && !(status === 403 && code === 'forbidden');

  it('when each role below an operation’s minimum calls it, then 403; when the minimum calls it, then it gets past the role check', async () => {
    const gated = w.ops.filter(needsBearer);
    for (const o of gated) {
      const min = minRole(o);
      for (const role of ROLES) {
        const caller = w.sessionsA[role];
        const below = !roleAtLeast(role, min);
        if (!below && role !== min) continue;
        count(counts.roles, o.operationId);
        const plan = await w.validRequest(o, caller, !below);
        const r = await w.send(plan);
        const what = `${o.operationId} (min ${min}) as ${role}: ${r.status} ${r.text.slice(0, 200)}`;
        if (below) {
          expect(r.status, what).toBe(403);
          expect(r.body.code, what).toBe('forbidden');
        } else {
          expect(passesGate(r.status, r.body.code), what).toBe(true);
        }
      }
    }
  });

  it('when an API key of each role calls an operation, then below the minimum or on a user-only operation 403; at the minimum it gets past the role check', async () => {
    const gated = w.ops.filter(needsBearer);
    let refusedUserOnly = 0;
    let passed = 0;
    for (const o of gated) {
      const min = minRole(o);
      for (const role of KEY_ROLES) {
        const key = w.keysA[role];
        // Sessions-only operations refuse every key, whatever its role, before anything happens.
        const refused = userOnly(o) || !roleAtLeast(role, min);
        if (!refused && role !== min) continue;
        count(counts.apiKeyRoles, o.operationId);
        const plan = await w.validRequest(o, key, !refused);
        const r = await w.send({ ...plan, token: key.token });
        const what = `${o.operationId} (min ${min}${userOnly(o) ? ', user only' : ''}) as ${key.label}: ${r.status} ${r.text.slice(0, 200)}`;
        if (refused) {
          expect(r.status, what).toBe(403);
          expect(r.body.code, what).toBe('forbidden');
          if (userOnly(o)) {
            refusedUserOnly++;
            expect(r.body.detail, what).toMatch(/needs a user session, not an API key/);
          }
        } else {
          expect(passesGate(r.status, r.body.code), what).toBe(true);
          passed++;
        }
      }
    }
    // Not vacuous: user-only operations exist (sessions, logout-all, account deletion), and keys
    // get through most operations at their minimum.
    expect(refusedUserOnly).toBeGreaterThanOrEqual(4 * KEY_ROLES.length);
    expect(passed).toBeGreaterThanOrEqual(20);
  });
});
