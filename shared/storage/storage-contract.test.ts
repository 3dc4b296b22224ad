import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestS3, type TestS3 } from '../testing/s3-server.ts';
import { createLocalStorage } from './local-storage.ts';
import { createS3Storage, type S3Storage } from './s3-storage.ts';
import { type Storage, StorageNotFoundError, tenantKey, tenantPrefix } from './storage.ts';

let s3: TestS3;
let dir: string;
let s3Storage: S3Storage;
const backends: Record<string, () => Storage> = {};

beforeAll(async () => {
  s3 = await startTestS3();
  dir = await mkdtemp(path.join(os.tmpdir(), 'rendermill-storage-'));
  s3Storage = s3.storage({ partSize: 5 * 1024 * 1024, queueSize: 2, deleteBatchSize: 100 });
  backends.local = () => createLocalStorage(path.join(dir, 'store'));
  backends.s3 = () => s3Storage;
});
afterAll(async () => {
  s3Storage?.close();
  await s3?.close();
  await rm(dir, { recursive: true, force: true });
});

const text = async (storage: Storage, key: string) => {
  const chunks: Buffer[] = [];
  for await (const c of await storage.read(key)) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString();
};

describe.each(['local', 's3'])('%s storage', (name) => {
  const storage = () => backends[name]!();

  it('when objects are written, then stat, read, download and list see them under the tenant prefix', async () => {
    const st = storage();
    const key = tenantKey(`ten_${name}1`, 'outputs', 'job_1.txt');
    expect(await st.putBuffer(key, Buffer.from('hello'))).toEqual({ bytes: 5 });
    const local = path.join(dir, `${name}-in.txt`);
    await writeFile(local, 'from a file');
    await st.putFile(tenantKey(`ten_${name}1`, 'exports', 'exp.zip'), local);
    await st.putBuffer(tenantKey(`ten_${name}2`, 'outputs', 'other.txt'), Buffer.from('x'));

    expect((await st.stat(key))?.bytes).toBe(5);
    expect(await text(st, key)).toBe('hello');
    const out = path.join(dir, `${name}-out.txt`);
    await st.download(tenantKey(`ten_${name}1`, 'exports', 'exp.zip'), out);
    expect(await readFile(out, 'utf8')).toBe('from a file');
    const listed = (await st.list(tenantPrefix(`ten_${name}1`))).map((o) => o.key).sort();
    expect(listed).toEqual([
      `tenants/ten_${name}1/exports/exp.zip`,
      `tenants/ten_${name}1/outputs/job_1.txt`,
    ]);
  });

  it('when an object is absent, then stat is null, read and download throw StorageNotFoundError, delete is a no-op', async () => {
    const st = storage();
    const key = tenantKey(`ten_${name}3`, 'outputs', 'missing.mp4');
    expect(await st.stat(key)).toBeNull();
    await expect(st.read(key)).rejects.toBeInstanceOf(StorageNotFoundError);
    await expect(st.download(key, path.join(dir, 'never'))).rejects.toBeInstanceOf(StorageNotFoundError);
    await expect(st.delete(key)).resolves.toBeUndefined();
  });

  it('when a tenant prefix is deleted, then every object under it is gone and other tenants keep theirs', async () => {
    const st = storage();
    const tenant = `ten_${name}del`;
    // More than one DeleteObjects batch (100 keys in this test) on S3.
    const keys = Array.from({ length: 250 }, (_, i) => tenantKey(tenant, 'cache', `k${i}.bin`));
    for (let i = 0; i < keys.length; i += 50) {
      await Promise.all(keys.slice(i, i + 50).map((k) => st.putBuffer(k, Buffer.from('1'))));
    }
    const keep = tenantKey(`${tenant}x`, 'outputs', 'keep.txt');
    await st.putBuffer(keep, Buffer.from('keep'));

    expect(await st.deletePrefix(tenantPrefix(tenant))).toBe(250);
    expect(await st.list(tenantPrefix(tenant))).toEqual([]);
    expect(await text(st, keep)).toBe('keep');
  });
});

describe('s3 storage specifics', () => {
  it('when a file is larger than one part, then it is uploaded in parts and reads back byte for byte', async () => {
    const file = path.join(dir, 'big.bin');
    // 12 MiB of random bytes: three 5 MiB parts.
    await pipeline(
      (async function* () {
        for (let i = 0; i < 12; i++) yield randomBytes(1024 * 1024);
      })(),
      createWriteStream(file),
    );
    const want = createHash('sha256')
      .update(await readFile(file))
      .digest('hex');
    const key = tenantKey('ten_big', 'outputs', 'big.bin');
    expect(await s3Storage.putFile(key, file, { sha256: want })).toEqual({ bytes: 12 * 1024 * 1024 });
    expect(await s3Storage.stat(key)).toEqual({ bytes: 12 * 1024 * 1024, sha256: want });
    const hash = createHash('sha256');
    for await (const c of await s3Storage.read(key)) hash.update(c as Buffer);
    expect(hash.digest('hex')).toBe(want);
  });

  it('when a presigned URL is fetched, then it serves the object as an attachment without credentials', async () => {
    const key = tenantKey('ten_sign', 'outputs', 'job_9.mp4');
    await s3Storage.putBuffer(key, Buffer.from('video bytes'));
    const url = await s3Storage.presignedUrl(key, {
      ttlSeconds: 900,
      filename: 'job_9.mp4',
      contentType: 'video/mp4',
    });
    expect(url).toContain('X-Amz-Expires=900');
    const res = await fetch(url!);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('video bytes');
    expect(res.headers.get('content-disposition')).toBe('attachment; filename="job_9.mp4"');
    // Past its life the link is refused.
    const short = await s3Storage.presignedUrl(key, {
      ttlSeconds: 1,
      filename: 'a.mp4',
      contentType: 'video/mp4',
    });
    await new Promise((r) => setTimeout(r, 2100));
    expect((await fetch(short!)).status).toBe(403);
  });

  it('when the S3 server accepts a connection but never answers, then the call fails at the request timeout', async () => {
    const sockets = new Set<net.Socket>();
    const silent = net.createServer((s) => sockets.add(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as net.AddressInfo).port;
    const stuck = createS3Storage({
      bucket: 'b',
      region: 'us-east-1',
      endpoint: `http://127.0.0.1:${port}`,
      forcePathStyle: true,
      credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
      requestTimeoutMs: 200,
    });
    try {
      const started = Date.now();
      await expect(stuck.stat('tenants/ten_x/a')).rejects.toMatchObject({ name: 'TimeoutError' });
      // three attempts of 200 ms plus backoff, far from "forever"
      expect(Date.now() - started).toBeLessThan(20_000);
    } finally {
      stuck.close();
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => silent.close(() => r()));
    }
  });
});
