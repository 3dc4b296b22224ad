import { randomBytes } from 'node:crypto';
import { unlink } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLocalStorage } from '../../../shared/storage/local-storage.ts';
import { signDownload } from '../../../shared/storage/signed-url.ts';
import { tenantKey } from '../../../shared/storage/storage.ts';
import { present } from '../../../shared/testing/present.ts';
import type { JobView } from './job-serializer.ts';
import type { JobsTestKit } from './jobs-test-kit.ts';
import { readRenderShort, startJobsTestKit } from './jobs-test-kit.ts';

let k: JobsTestKit;
let fixture: Record<string, unknown>;
let token: string;
beforeAll(async () => {
  k = await startJobsTestKit();
  fixture = await readRenderShort();
  token = k.owner.access_token;
});
afterAll(async () => {
  await k.t.close();
});

/** A succeeded render whose MP4 we wrote into storage ourselves, as the worker would. */
async function finishedRender(bytes = randomBytes(64 * 1024)) {
  const r = await k.t.call('POST', '/v1/renders', { token, body: fixture });
  const id = r.body.id as string;
  const key = tenantKey(k.owner.tenant.id, 'outputs', `${id}.mp4`);
  const storage = createLocalStorage(k.t.env.config.STORAGE_DIR);
  await storage.putBuffer(key, bytes);
  const expires = new Date(Date.now() + 30 * 86_400_000);
  await k.t.env
    .db('jobs')
    .update({
      status: 'succeeded',
      progress: 1,
      finished_at: new Date(),
      output_key: key,
      output_content_type: 'video/mp4',
      output_bytes: bytes.length,
      output_duration_seconds: 12.4,
      output_expires_at: expires,
    })
    .where({ id });
  return { id, key, bytes, expires, storage };
}

/** Follows a signed link against the test server (PUBLIC_URL is not where it listens). */
function local(url: string): string {
  const u = new URL(url);
  return `${k.t.api.url}${u.pathname}${u.search}`;
}

describe('GET /v1/jobs/:id/output', () => {
  it('when the job has an output, then it redirects to a signed link that serves the exact bytes', async () => {
    const { id, bytes, expires } = await finishedRender();
    const job = await k.t.call<JobView>('GET', `/v1/jobs/${id}`, { token: k.keys.viewer });
    expect(job.body.output).toEqual({
      url: `http://rendermill.test/v1/jobs/${id}/output`,
      content_type: 'video/mp4',
      bytes: bytes.length,
      duration_seconds: 12.4,
      expires_at: expires.toISOString(),
    });

    const r = await k.t.call('GET', `/v1/jobs/${id}/output`, { token: k.keys.viewer });
    expect(r.status).toBe(302);
    const location = r.headers.get('location') ?? '';
    expect(location).toMatch(
      new RegExp(`^http://rendermill\\.test/v1/files/${id}\\?expires=\\d+&sig=[0-9a-f]{64}$`),
    );
    const exp = Number(new URL(location).searchParams.get('expires'));
    expect(exp - Date.now() / 1000).toBeGreaterThan(14 * 60);
    expect(exp - Date.now() / 1000).toBeLessThanOrEqual(15 * 60);

    // No bearer token: the signature is the credential.
    const file = await fetch(local(location));
    expect(file.status).toBe(200);
    expect(file.headers.get('content-type')).toBe('video/mp4');
    expect(file.headers.get('content-disposition')).toBe(`attachment; filename="${id}.mp4"`);
    expect(Buffer.from(await file.arrayBuffer()).equals(bytes)).toBe(true);

    const range = await fetch(local(location), { headers: { range: 'bytes=10-19' } });
    expect(range.status).toBe(206);
    expect(Buffer.from(await range.arrayBuffer()).equals(bytes.subarray(10, 20))).toBe(true);
  });

  it('when the signature is tampered with or the link has expired, then the file answers 403', async () => {
    const { id } = await finishedRender();
    const r = await k.t.call('GET', `/v1/jobs/${id}/output`, { token });
    const good = new URL(r.headers.get('location') ?? '');
    const sig = good.searchParams.get('sig') ?? '';

    const tampered = new URL(good);
    tampered.searchParams.set('sig', `${sig[0] === '0' ? '1' : '0'}${sig.slice(1)}`);
    const later = new URL(good);
    later.searchParams.set('expires', String(Number(good.searchParams.get('expires')) + 3600));
    const otherJob = (await finishedRender()).id;
    const expired = signDownload({
      secret: k.t.env.config.JWT_SECRET,
      publicUrl: k.t.env.config.PUBLIC_URL,
      jobId: id,
      now: new Date(Date.now() - 16 * 60_000),
    }).url;
    for (const url of [
      tampered.href,
      later.href,
      good.href.replace(id, otherJob),
      expired,
      `${good.origin}${good.pathname}`,
    ]) {
      const res = await fetch(local(url));
      expect(res.status, url).toBe(403);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
      expect(await res.json()).toMatchObject({ code: 'forbidden' });
    }
  });

  it('when the job has no output yet, then output answers 404', async () => {
    const r = await k.t.call('POST', '/v1/renders', { token, body: fixture });
    const out = await k.t.call('GET', `/v1/jobs/${r.body.id}/output`, { token });
    expect(out.status).toBe(404);
    expect((await k.t.call<JobView>('GET', `/v1/jobs/${r.body.id}`, { token })).body.output).toBeNull();
  });

  it('when the output expired or was swept, then output, the job view and an earlier link all answer 404', async () => {
    for (const change of [
      { output_expires_at: new Date(Date.now() - 1000) },
      { output_deleted_at: new Date() },
    ]) {
      const { id } = await finishedRender();
      const link = (await k.t.call('GET', `/v1/jobs/${id}/output`, { token })).headers.get('location') ?? '';
      await k.t.env.db('jobs').update(change).where({ id });
      expect((await k.t.call('GET', `/v1/jobs/${id}/output`, { token })).status).toBe(404);
      expect((await k.t.call<JobView>('GET', `/v1/jobs/${id}`, { token })).body.output).toBeNull();
      expect((await fetch(local(link))).status).toBe(404);
    }
  });

  it('when the file is gone from storage, then the signed link answers 404, not 500', async () => {
    const { id, key, storage } = await finishedRender();
    const link = (await k.t.call('GET', `/v1/jobs/${id}/output`, { token })).headers.get('location') ?? '';
    await unlink(storage.localPath(key) ?? '');
    expect((await fetch(local(link))).status).toBe(404);
  });
});

describe('GET /v1/webhook-secret', () => {
  it('when an admin asks, then it answers the tenant secret; a member gets 403', async () => {
    const admin = await k.t.call('GET', '/v1/webhook-secret', { token: k.keys.admin });
    expect(admin.status).toBe(200);
    expect(admin.body.secret).toMatch(/^whsec_/);
    expect(admin.headers.get('cache-control')).toBe('no-store');
    const owner = await k.t.call('GET', '/v1/webhook-secret', { token });
    expect(owner.body.secret).toBe(admin.body.secret);
    const member = await k.t.call('GET', '/v1/webhook-secret', { token: k.keys.member });
    expect(member.status).toBe(403);
    const other = await k.t.call('GET', '/v1/webhook-secret', { token: k.other.access_token });
    expect(other.body.secret).not.toBe(admin.body.secret);
  });

  it('when the tenant has no secret yet, then concurrent reads create exactly one', async () => {
    await k.t.env.db('tenants').update({ webhook_secret: null }).where({ id: k.other.tenant.id });
    const answers = await Promise.all(
      [1, 2, 3, 4].map(() => k.t.call('GET', '/v1/webhook-secret', { token: k.other.access_token })),
    );
    const secrets = new Set(answers.map((a) => a.body.secret));
    expect(secrets.size).toBe(1);
    const stored = present(await k.t.env.db('tenants').where({ id: k.other.tenant.id }).first());
    expect(secrets.has(stored.webhook_secret)).toBe(true);
    expect(
      await k.t.env.db('audit_log').where({ action: 'webhook_secret.created', tenant_id: k.other.tenant.id }),
    ).toHaveLength(1);
  });
});
