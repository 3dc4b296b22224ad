import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SignIn, startTestApi, type TestApi } from '../../api/testing/api-harness.ts';
import { tenantPseudonym } from '../../shared/account/tenant-pseudonym.ts';
import { newId } from '../../shared/ids/ids.ts';
import { ALL_QUEUES } from '../../shared/queue/queues.ts';
import { createLocalStorage } from '../../shared/storage/local-storage.ts';
import { tenantKey, tenantPrefix } from '../../shared/storage/storage.ts';
import { scanDatabase } from '../../workers/testing/scan-database.ts';
import { exited, spawnService } from '../spawn-process.ts';
import { startAccountWorker } from './account-worker.ts';

/**
 * Promise "leave without a trace" under a crash: the worker running an account deletion is
 * SIGKILLed mid-way (stuck on Stripe); another worker must resume after the last finished step
 * and complete it. Then nothing names the tenant or its own users — no row, file or queue
 * entry — and signing in again starts a new, empty tenant.
 */
let t: TestApi;
let survivor: Awaited<ReturnType<typeof startAccountWorker>> | undefined;
beforeAll(async () => {
  t = await startTestApi({
    ACCOUNT_DELETION_GRACE_SECONDS: '0',
    RATE_LIMIT_PER_MINUTE: '10000',
    RATE_LIMIT_BURST_PER_SECOND: '10000',
  });
});
afterAll(async () => {
  await survivor?.stop();
  await t.close();
});

async function join(owner: SignIn, email: string, role: string): Promise<SignIn> {
  const before = t.smtp.mails.length;
  await t.call('POST', '/v1/invites', { token: owner.access_token, body: { email, role } });
  const token = await t.linkToken(email, before);
  return (await t.call<SignIn>('POST', '/v1/auth/verify', { body: { token } })).body;
}

async function until<T>(
  what: string,
  probe: () => Promise<T | undefined | null | false>,
  ms = 30_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('chaos: worker SIGKILL mid account deletion', () => {
  it('when the worker deleting an account is killed, then another resumes it, nothing of the tenant is left, and a new sign-in starts afresh', async () => {
    const shared = await t.signIn('shared@deletion.chaos');
    const owner = await t.signIn('owner@deletion.chaos');
    const member = await join(owner, 'member@deletion.chaos', 'member');
    await join(owner, 'shared@deletion.chaos', 'viewer');
    await t.call('POST', '/v1/api-keys', { token: owner.access_token, body: { name: 'ci' } });
    const render = await t.call<{ id: string }>('POST', '/v1/renders', {
      token: member.access_token,
      body: { scenes: [{ title: 'Never rendered', duration: 1 }] },
    });
    expect(render.status).toBe(202);
    const tenantId = owner.tenant.id;
    const storage = createLocalStorage(t.env.config.STORAGE_DIR);
    await storage.putBuffer(tenantKey(tenantId, 'outputs', 'job_old.mp4'), Buffer.from('an old video'));
    await storage.putBuffer(tenantKey(tenantId, 'cache', 'abc.wav'), Buffer.from('cached speech'));
    await t.env.db('usage_events').insert({
      id: newId('evt'),
      tenant_id: tenantId,
      job_id: render.body.id,
      step: 'compose',
      metric: 'render_seconds',
      quantity: 1,
    });

    const scheduled = await t.call('POST', '/v1/account/delete', { token: owner.access_token });
    expect(scheduled.status).toBe(202);
    const jobId = scheduled.body.job_id as string;

    const victim = spawnService(['chaos/account/account-worker-stuck-billing.ts'], t.env.vars);
    try {
      await until('the victim to reach close-billing', () =>
        t.env.db('job_steps').where({ job_id: jobId, name: 'close-billing', status: 'running' }).first(),
      );
      expect(await storage.list(tenantPrefix(tenantId))).toEqual([]);
      expect(await t.env.db('tenants').where({ id: tenantId }).first()).toBeTruthy();
      process.kill(-victim.pid!, 'SIGKILL');
      await exited(victim);
    } finally {
      if (victim.exitCode === null && victim.signalCode === null) process.kill(-victim.pid!, 'SIGKILL');
    }

    survivor = await startAccountWorker(t.env.config);
    const receipt = await until(
      'the survivor to complete the deletion',
      async () => {
        const r = await t.env.db('deletion_receipts').where({ job_id: jobId }).first();
        return r?.completed_at ? r : null;
      },
      60_000,
    );
    expect(await t.env.db('jobs').where({ id: jobId }).first()).toBeUndefined();
    expect(receipt.counts).toMatchObject({ tenant: 1, members: 3, users: 2, jobs: 2, storage_objects: 2 });

    const needles = [tenantId, owner.user.id, owner.user.email, member.user.id, member.user.email];
    expect(await scanDatabase(t.env.db, needles)).toEqual([]);
    expect(await storage.list(tenantPrefix(tenantId))).toEqual([]);
    for (const q of ALL_QUEUES) {
      const jobs = await t.api.deps.producer
        .queue(q)
        .getJobs(['waiting', 'delayed', 'active', 'completed', 'failed', 'prioritized', 'waiting-children']);
      expect(jobs.filter((j) => j?.data?.tenantId === tenantId).map((j) => `${q}:${j.id}`)).toEqual([]);
    }
    expect(await t.env.db('usage_events').where({ tenant_id: tenantPseudonym(tenantId) })).toHaveLength(1);
    const mail = await t.smtp.waitFor((m) => m.to.includes(owner.user.email) && m.text.includes(receipt.id));
    expect(mail.subject).toBe('Your Rendermill account has been deleted');

    // The shared user lives on, in their own tenant; the deleted owner's token is dead.
    expect((await t.call('GET', '/v1/me', { token: shared.access_token })).status).toBe(200);
    expect((await t.call('GET', '/v1/me', { token: owner.access_token })).status).toBe(401);

    const again = await t.signIn('owner@deletion.chaos');
    expect(again.tenant.id).not.toBe(tenantId);
    expect(again.user.id).not.toBe(owner.user.id);
    expect(again.role).toBe('owner');
    const members = await t.call<{ data: unknown[] }>('GET', '/v1/members', { token: again.access_token });
    expect(members.body.data).toHaveLength(1);
    expect(
      (await t.call<{ data: unknown[] }>('GET', '/v1/jobs', { token: again.access_token })).body.data,
    ).toEqual([]);
  });
});
