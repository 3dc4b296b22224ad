import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { DEFAULT_PART_SIZE, DEFAULT_QUEUE_SIZE } from '../shared/storage/s3-storage.ts';
import { tenantKey } from '../shared/storage/storage.ts';
import { startTestS3 } from '../shared/testing/s3-server.ts';
import { MiB, measurePutFile, type UploadMemory, writeStampedFile } from '../shared/testing/upload-memory.ts';

/**
 * `npm run bench:s3-upload`: does memory stay flat while a 2 GiB output goes to S3? s3rver runs
 * in a child process (its memory is not ours to measure) on a temp dir removed at the end. This
 * process writes a file of stamped random blocks (outputs reach storage as files: `putFile`),
 * then uploads it through the real S3 store with the production part size and queue size,
 * sampling its own RSS, heap and Buffers every 100 ms. A small upload first is the contrast:
 * flat means the big one grows RSS about as much as the small one, both near partSize ×
 * queueSize. BENCH_SIZES_MIB (default `64,2048`) sets the uploads, smallest first.
 */
const sizes = (process.env.BENCH_SIZES_MIB ?? '64,2048').split(',').map((s) => Number(s) * MiB);
const mib = (b: number) => `${(b / MiB).toFixed(0)} MiB`;
const size = (b: number) => (b >= 1024 * MiB ? `${(b / 1024 / MiB).toFixed(0)} GiB` : mib(b));
const growth = (b: number) => `${b >= 0 ? '+' : ''}${(b / MiB).toFixed(0)} MiB`;
/** Peak RSS in each quarter of the samples: rising quarters would mean memory grows with the bytes sent. */
const quarters = (rss: number[]) =>
  [0, 1, 2, 3]
    .map((q) => rss.slice(Math.floor((q * rss.length) / 4), Math.floor(((q + 1) * rss.length) / 4)))
    .map((part) => (part.length ? (Math.max(...part) / MiB).toFixed(0) : '–'))
    .join(' / ')
    .concat(' MiB');
const load = () =>
  os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');

const dir = await mkdtemp(path.join(os.tmpdir(), 'rendermill-bench-s3-'));
const s3 = await startTestS3('rendermill-bench');
// No partSize or queueSize: the defaults, as the configured store (createStorage) uses them.
const storage = s3.storage();
const results: Array<UploadMemory & { etagOk: boolean }> = [];
try {
  const baseline = process.memoryUsage().rss;
  console.log(`bench:s3-upload on ${os.cpus().length} cores, load average ${load()}`);
  console.log(
    `partSize ${mib(DEFAULT_PART_SIZE)} × queueSize ${DEFAULT_QUEUE_SIZE} = ${mib(DEFAULT_PART_SIZE * DEFAULT_QUEUE_SIZE)} of parts in flight (the defaults)`,
  );
  console.log(`RSS before any upload ${mib(baseline)}`);
  for (const bytes of sizes) {
    const file = path.join(dir, `upload-${bytes}.bin`);
    const { md5 } = await writeStampedFile(file, bytes);
    const key = tenantKey('ten_bench', 'outputs', `upload-${bytes}.bin`);
    const m = await measurePutFile(storage, key, file);
    await rm(file);
    const head = await storage.client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: key }));
    // s3rver's ETag, multipart or not, is the MD5 of the whole object as it stored it.
    const etagOk = head.ETag === `"${md5}"` && Number(head.ContentLength) === bytes && m.bytes === bytes;
    results.push({ ...m, etagOk });
    console.log(
      `${size(bytes).padEnd(8)} ${m.seconds.toFixed(1)} s, ${(bytes / MiB / m.seconds).toFixed(0)} MiB/s; ` +
        `RSS ${mib(m.rssBefore)} → peak ${mib(m.rssPeak)} (${growth(m.rssPeak - m.rssBefore)} over this upload's start, ` +
        `${growth(m.rssPeak - baseline)} over the first); heap used peak ${growth(m.heapUsedPeak - m.heapUsedBefore)}, Buffers peak ${growth(m.buffersPeak - m.buffersBefore)}; ` +
        `${m.rssSamples.length} samples, peak by quarter of the upload ${quarters(m.rssSamples)}; size ${String(head.ContentLength)} B, ETag ${String(head.ETag)} ${etagOk ? 'matches' : 'DIFFERS from'} the file's MD5`,
    );
    await storage.delete(key);
  }
  const small = results[0]!;
  const big = results[results.length - 1]!;
  console.log(
    `summary: ${size(big.bytes)} in ${big.seconds.toFixed(1)} s (${(big.bytes / MiB / big.seconds).toFixed(0)} MiB/s), ` +
      `peak RSS ${growth(big.rssPeak - big.rssBefore)} vs ${growth(small.rssPeak - small.rssBefore)} for ${size(small.bytes)} ` +
      `(${growth(big.rssPeak - baseline)} vs ${growth(small.rssPeak - baseline)} over the RSS before any upload); ` +
      `size and MD5 ${results.every((r) => r.etagOk) ? 'match' : 'DO NOT match'}`,
  );
  console.log(`load average at the end ${load()}`);
  if (!results.every((r) => r.etagOk)) process.exitCode = 1;
} finally {
  storage.close();
  await s3.close();
  await rm(dir, { recursive: true, force: true });
}
