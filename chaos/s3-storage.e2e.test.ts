import { readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SignIn, startTestApi, type TestApi } from '../api/testing/api-harness.ts';
import type { S3Storage } from '../shared/storage/s3-storage.ts';
import { signDownload } from '../shared/storage/signed-url.ts';
import { tenantPrefix } from '../shared/storage/storage.ts';
import { present } from '../shared/testing/present.ts';
import { startTestS3, type TestS3 } from '../shared/testing/s3-server.ts';
import { start as startWorker, type WorkerProcess } from '../workers/main.ts';
import { sweepExpiredOutputs } from '../workers/tasks/maintenance/sweep-outputs-task.ts';
import { readZip } from '../workers/testing/read-zip.ts';

/**
 * The API and a worker on S3 storage (a real s3rver): every file path — render outputs, the
 * media cache, the retention sweeper, the account export with its inline outputs, downloads by
 * presigned URL and account deletion — goes to the bucket, and nothing lands on local disk.
 */
let s3: TestS3;
let t: TestApi;
let worker: WorkerProcess;
let bucket: S3Storage;
let s: SignIn;

beforeAll(async () => {
  s3 = await startTestS3();
  t = await startTestApi({
    ...s3.vars,
    WORKER_CONCURRENCY: '2',
    ACCOUNT_DELETION_GRACE_SECONDS: '0',
    RATE_LIMIT_BURST_PER_SECOND: '1000',
    RATE_LIMIT_PER_MINUTE: '100000',
  });
  worker = await startWorker(t.env.config);
  bucket = s3.storage();
  s = await t.signIn('s3@example.com');
});
afterAll(async () => {
  await worker?.stop();
  await t?.close();
  bucket?.close();
  await s3?.close();
});

async function finished(id: string, token = s.access_token): Promise<Record<string, unknown>> {
  const deadline = Date.now() + 90_000;
  for (;;) {
    const j = (await t.call('GET', `/v1/jobs/${id}`, { token })).body;
    if (['succeeded', 'failed', 'canceled'].includes(String(j.status))) return j;
    if (Date.now() > deadline) throw new Error(`job ${id} still ${String(j.status)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function filesUnder(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []))
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath, e.name));
}

/** Follows our 302 to the store and returns what the store serves. */
async function download(location: string): Promise<Response> {
  expect(location.startsWith(`${s3.endpoint}/${s3.bucket}/tenants/`), location).toBe(true);
  expect(location).toContain('X-Amz-Expires=');
  return fetch(location);
}

describe('S3 storage end to end', () => {
  it('when a render runs, then its output and cache entries are in the bucket and the output link is a presigned GET', async () => {
    const r = await t.call('POST', '/v1/renders', {
      token: s.access_token,
      body: { scenes: [{ text: 'Stored in a bucket.', title: 'S3' }, { duration: 1 }], fps: 24 },
    });
    expect(r.status, r.text).toBe(202);
    const job = await finished(r.body.id as string);
    expect(job.status, JSON.stringify(job)).toBe('succeeded');

    const keys = (await bucket.list(tenantPrefix(s.tenant.id))).map((o) => o.key);
    expect(keys).toContain(`tenants/${s.tenant.id}/outputs/${String(job.id)}.mp4`);
    expect(keys.filter((k) => k.includes('/cache/')).length).toBeGreaterThanOrEqual(2);
    expect(await filesUnder(t.env.config.STORAGE_DIR)).toEqual([]);

    const out = await t.call('GET', `/v1/jobs/${String(job.id)}/output`, { token: s.access_token });
    expect(out.status).toBe(302);
    expect(out.headers.get('location')).toContain('X-Amz-Expires=900');
    const file = await download(out.headers.get('location')!);
    expect(file.status).toBe(200);
    expect(file.headers.get('content-type')).toBe('video/mp4');
    expect(file.headers.get('content-disposition')).toBe(`attachment; filename="${String(job.id)}.mp4"`);
    const bytes = Buffer.from(await file.arrayBuffer());
    expect(bytes.subarray(4, 8).toString()).toBe('ftyp');

    // A signed /v1/files link (as put in account exports) redirects to the store as well.
    const link = signDownload({ secret: t.env.config.JWT_SECRET, publicUrl: '', jobId: String(job.id) });
    const viaLink = await t.call('GET', link.url);
    expect(viaLink.status).toBe(302);
    expect((await download(viaLink.headers.get('location')!)).status).toBe(200);
  });

  it('when an output expires, then the sweeper deletes its object from the bucket', async () => {
    const r = await t.call('POST', '/v1/images', {
      token: s.access_token,
      body: { width: 64, height: 64, background: '#123456', text: 'gone soon' },
    });
    expect(r.status, r.text).toBe(202);
    const job = await finished(r.body.id as string);
    expect(job.status, JSON.stringify(job)).toBe('succeeded');
    const row = present(
      await t.env
        .db('jobs')
        .where({ id: String(job.id) })
        .first(),
    );
    const outputKey = present(row.output_key, 'the output key');
    expect(await bucket.stat(outputKey)).not.toBeNull();

    await t.env
      .db('jobs')
      .where({ id: row.id })
      .update({ output_expires_at: new Date(Date.now() - 1000) });
    expect(await sweepExpiredOutputs(worker.services)).toBe(1);
    expect(await bucket.stat(outputKey)).toBeNull();
  });

  it('when the account is exported, then the ZIP in the bucket holds the outputs inline', async () => {
    const exp = await t.call('POST', '/v1/account/export', { token: s.access_token });
    expect(exp.status, exp.text).toBe(202);
    const job = await finished(exp.body.id as string);
    expect(job.status, JSON.stringify(job)).toBe('succeeded');
    const out = await t.call('GET', `/v1/jobs/${String(job.id)}/output`, { token: s.access_token });
    expect(out.status).toBe(302);
    const zipPath = path.join(t.env.dir, 'export.zip');
    await writeFile(zipPath, Buffer.from(await (await download(out.headers.get('location')!)).arrayBuffer()));
    const files = await readZip(zipPath);
    const manifest = JSON.parse(files.get('manifest.json')!.toString()) as {
      outputs: { included_bytes: number };
    };
    const inline = [...files.keys()].filter((f) => f.startsWith('outputs/'));
    expect(inline.some((f) => f.endsWith('.mp4'))).toBe(true);
    expect(manifest.outputs.included_bytes).toBeGreaterThan(0);
  });

  it('when the account is deleted, then no object is left under the tenant prefix', async () => {
    const before = await bucket.list(tenantPrefix(s.tenant.id));
    expect(before.length).toBeGreaterThanOrEqual(4); // render output, cache entries, export
    const del = await t.call('POST', '/v1/account/delete', { token: s.access_token });
    expect(del.status, del.text).toBe(202);
    const jobId = del.body.job_id as string;
    const deadline = Date.now() + 60_000;
    for (;;) {
      const receipt = await t.env.db('deletion_receipts').where({ job_id: jobId }).first();
      if (receipt?.completed_at) {
        expect(receipt.counts.storage_objects).toBe(before.length);
        break;
      }
      if (Date.now() > deadline) throw new Error('deletion did not complete');
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(await bucket.list(tenantPrefix(s.tenant.id))).toEqual([]);
    // Nothing anywhere in the bucket names the tenant.
    expect((await bucket.list('tenants/')).filter((o) => o.key.includes(s.tenant.id))).toEqual([]);
  });
});
