import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestS3, type TestS3 } from '../testing/s3-server.ts';
import { MiB, measurePutFile, writeStampedFile } from '../testing/upload-memory.ts';
import type { S3Storage } from './s3-storage.ts';
import { tenantKey } from './storage.ts';

/**
 * The S3 store's uploads stream: memory stays flat whatever the file's size. s3rver runs in a
 * child process, so only the uploading side's memory is measured (this test process).
 * `npm run bench:s3-upload` measures the same for 2 GiB against a small upload.
 */
const SIZE = 512 * MiB;
// Why 160 MiB: the store's defaults keep partSize × queueSize = 32 MiB of parts in flight plus
// the part being assembled; V8 frees dead Buffers only at a GC, which it forces once about
// 64 MiB of external memory has piled up; and the SDK's modules load on first use. Measured
// here: +77–100 MiB for 512 MiB, about what 64 MiB and 2 GiB take (bench:s3-upload). 160 MiB
// leaves room for a late GC on a loaded machine yet is under a third of the file: an upload
// that buffered it grows by 512 MiB (+523 MiB measured with the body read into memory).
const MAX_RSS_GROWTH = 160 * MiB;
/** A ceiling for a starved machine (10 MiB/s); the test takes about 10 s on a quiet one. */
const TIMEOUT_MS = 120_000;

let s3: TestS3;
let storage: S3Storage;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'rendermill-s3-memory-'));
  s3 = await startTestS3();
  storage = s3.storage();
});
afterAll(async () => {
  storage?.close();
  await s3?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

it('when a 512 MiB file is uploaded to S3, then the object is exact and the RSS grows by less than 160 MiB', {
  timeout: TIMEOUT_MS,
}, async () => {
  const file = path.join(dir, 'big.bin');
  const { md5 } = await writeStampedFile(file, SIZE);
  const key = tenantKey('ten_mem', 'outputs', 'big.bin');

  const m = await measurePutFile(storage, key, file);

  expect(m.bytes).toBe(SIZE);
  const head = await storage.client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: key }));
  expect(Number(head.ContentLength)).toBe(SIZE);
  // s3rver's ETag is the MD5 of the whole stored object, multipart or not.
  expect(head.ETag).toBe(`"${md5}"`);
  const grewMiB = (m.rssPeak - m.rssBefore) / MiB;
  expect(m.rssPeak - m.rssBefore, `RSS grew ${grewMiB.toFixed(0)} MiB`).toBeLessThan(MAX_RSS_GROWTH);
});
