import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startTestS3, type TestS3 } from '../testing/s3-server.ts';
import { createLocalStorage } from './local-storage.ts';
import type { S3Storage } from './s3-storage.ts';
import { type Storage, tenantKey } from './storage.ts';
import { migrateStorage } from './storage-migrate.ts';

let s3: TestS3;
let bucket: S3Storage;
let dir: string;
let n = 0;
let from: Storage;
let fromDir: string;
let journal: string;

beforeAll(async () => {
  s3 = await startTestS3();
  bucket = s3.storage();
  dir = await mkdtemp(path.join(os.tmpdir(), 'rendermill-migrate-'));
});
afterAll(async () => {
  bucket?.close();
  await s3?.close();
  await rm(dir, { recursive: true, force: true });
});

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const contents = new Map<string, Buffer>();

beforeEach(async () => {
  // Each test its own source store and tenant ids, so they never see each other's objects.
  n++;
  fromDir = path.join(dir, `store${n}`);
  journal = path.join(dir, `journal${n}.jsonl`);
  from = createLocalStorage(fromDir);
  contents.clear();
  for (let i = 0; i < 12; i++) {
    const key = tenantKey(`ten_m${n}_${i % 3}`, i % 2 ? 'outputs' : 'cache', `obj${i}.bin`);
    const data = randomBytes(1000 + i * 97);
    contents.set(key, data);
    await from.putBuffer(key, data);
  }
});

/** The target, failing its `failAfter`-th upload (a crash or a network loss mid-run). */
function flaky(failAfter: number): Storage {
  let puts = 0;
  return {
    ...bucket,
    async putFile(key, localPath, opts) {
      if (++puts === failAfter) throw new Error('connection reset');
      return bucket.putFile(key, localPath, opts);
    },
  };
}

async function bucketMatchesSource() {
  for (const [key, data] of contents) {
    const chunks: Buffer[] = [];
    for await (const c of await bucket.read(key)) chunks.push(c as Buffer);
    expect(sha(Buffer.concat(chunks)), key).toBe(sha(data));
    expect((await bucket.stat(key))?.sha256).toBe(sha(data));
  }
}

describe('storage:migrate', () => {
  it('when a run is interrupted, then the next one copies only what is left and every copy matches its checksum', async () => {
    await expect(migrateStorage({ from, to: flaky(7), journal, concurrency: 1 })).rejects.toThrow(
      'connection reset',
    );
    const resumed = await migrateStorage({ from, to: bucket, journal, concurrency: 3 });
    expect(resumed).toMatchObject({ total: 12, copied: 6, skipped: 6, failed: [] });
    await bucketMatchesSource();

    // Nothing to do on a third run; a changed source file is copied again.
    expect(await migrateStorage({ from, to: bucket, journal })).toMatchObject({ copied: 0, skipped: 12 });
    const changed = [...contents.keys()][4]!;
    contents.set(changed, Buffer.from('edited after the first copy'));
    await from.putBuffer(changed, contents.get(changed)!);
    expect(await migrateStorage({ from, to: bucket, journal })).toMatchObject({ copied: 1, skipped: 11 });
    await bucketMatchesSource();
  });

  it('when a copy reads back different bytes, then it is reported, deleted, and not journaled', async () => {
    const victim = [...contents.keys()][2]!;
    const corrupting: Storage = {
      ...bucket,
      async read(key) {
        if (key === victim) return Readable.from([Buffer.from('bit rot')]);
        return bucket.read(key);
      },
    };
    // One copy at a time: s3rver (not S3) removes a directory when its last object is deleted, so
    // deleting the bad copy while a neighbour in the same prefix is being written crashes it.
    const r = await migrateStorage({ from, to: corrupting, journal, concurrency: 1 });
    expect(r.copied).toBe(11);
    expect(r.failed).toEqual([{ key: victim, reason: expect.stringContaining('checksum mismatch') }]);
    expect(await bucket.stat(victim)).toBeNull();
    // The next, healthy run copies just that one.
    expect(await migrateStorage({ from, to: bucket, journal })).toMatchObject({ copied: 1, skipped: 11 });
  });

  it('when the bucket lost an object the journal lists, then it is copied again', async () => {
    await migrateStorage({ from, to: bucket, journal });
    const lost = [...contents.keys()][0]!;
    await bucket.delete(lost);
    expect(await migrateStorage({ from, to: bucket, journal })).toMatchObject({ copied: 1, skipped: 11 });
  });

  it('when run as `npm run storage:migrate`, then it copies STORAGE_DIR into S3_BUCKET and prints a summary', async () => {
    const root = fileURLToPath(new URL('../..', import.meta.url));
    const run = () =>
      new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
        execFile(
          'npm',
          ['run', '--silent', 'storage:migrate', '--', '--concurrency', '2'],
          {
            cwd: root,
            env: { PATH: process.env.PATH, HOME: process.env.HOME, ...s3.vars, STORAGE_DIR: fromDir },
            timeout: 60_000,
          },
          (err, stdout, stderr) =>
            resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
        );
      });
    const first = await run();
    expect(first.code, first.stderr).toBe(0);
    const summary = JSON.parse(first.stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
    expect(summary).toMatchObject({ total: 12, copied: 12, skipped: 0, failed: [], bucket: s3.bucket });
    await bucketMatchesSource();
    const again = JSON.parse((await run()).stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
    expect(again).toMatchObject({ copied: 0, skipped: 12 });
  });
});
