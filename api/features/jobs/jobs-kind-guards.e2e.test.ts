import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobStatus } from '../../../shared/jobs/job-contract.ts';
import { present } from '../../../shared/testing/present.ts';
import { type JobsTestKit, startJobsTestKit } from './jobs-test-kit.ts';

let k: JobsTestKit;
beforeAll(async () => {
  k = await startJobsTestKit();
});
afterAll(async () => {
  await k.t.close();
});

async function insertJob(kind: 'export' | 'deletion', status: JobStatus, output = false): Promise<string> {
  const id = `job_guard_${kind}_${Math.random().toString(36).slice(2, 8)}`;
  await k.t.env.db('jobs').insert({
    id,
    tenant_id: k.owner.tenant.id,
    kind,
    status,
    payload: JSON.stringify({}),
    ...(output
      ? {
          output_key: `tenants/${k.owner.tenant.id}/exports/${id}.zip`,
          output_content_type: 'application/zip',
          output_bytes: 10,
          output_expires_at: new Date(Date.now() + 3600_000),
        }
      : {}),
  });
  return id;
}

describe('job kinds that need more than the route minimum', () => {
  it('when a viewer or member asks for an account export, then 403; an admin gets the signed link', async () => {
    const id = await insertJob('export', 'succeeded', true);
    for (const token of [k.keys.viewer, k.keys.member]) {
      const r = await k.t.call('GET', `/v1/jobs/${id}/output`, { token });
      expect(r.status).toBe(403);
      expect(r.body.code).toBe('forbidden');
    }
    const ok = await k.t.call('GET', `/v1/jobs/${id}/output`, { token: k.keys.admin });
    expect(ok.status).toBe(302);
  });

  it('when a member or admin cancels a pending account deletion through /v1/jobs, then 403 and it stays queued', async () => {
    const id = await insertJob('deletion', 'queued');
    for (const token of [k.keys.member, k.keys.admin]) {
      const r = await k.t.call('POST', `/v1/jobs/${id}/cancel`, { token });
      expect(r.status).toBe(403);
    }
    const row = present(await k.t.env.db('jobs').where({ id }).first());
    expect(row.status).toBe('queued');
    const owner = await k.t.call('POST', `/v1/jobs/${id}/cancel`, { token: k.owner.access_token });
    expect(owner.status).toBe(202);
  });
});
