import { createHash, randomBytes } from 'node:crypto';
import { open } from 'node:fs/promises';
import type { Storage } from '../storage/storage.ts';

export const MiB = 1024 * 1024;

/**
 * Writes `bytes` (a whole number of MiB) of varied content to `file` and returns its MD5 (hex).
 * One random MiB is reused with the block's index stamped into its first 8 bytes, so no two
 * blocks are equal: a part sent twice, dropped or reordered changes the object's MD5.
 */
export async function writeStampedFile(file: string, bytes: number): Promise<{ md5: string }> {
  if (bytes % MiB !== 0) throw new Error('writeStampedFile writes whole MiB');
  const block = randomBytes(MiB);
  const md5 = createHash('md5');
  const fh = await open(file, 'w');
  try {
    for (let i = 0; i < bytes / MiB; i++) {
      block.writeBigUInt64BE(BigInt(i), 0);
      md5.update(block);
      // Awaited before the next stamp: the block is reused, so it must be written first.
      await fh.write(block);
    }
  } finally {
    await fh.close();
  }
  return { md5: md5.digest('hex') };
}

export interface UploadMemory {
  bytes: number;
  seconds: number;
  /** RSS (bytes) just before the upload started. */
  rssBefore: number;
  /** Highest RSS (bytes) during the upload. */
  rssPeak: number;
  heapUsedBefore: number;
  heapUsedPeak: number;
  /** Memory held by Buffers (`arrayBuffers`, outside the heap) just before and at its highest. */
  buffersBefore: number;
  buffersPeak: number;
  /** RSS (bytes) of every sample, in order (one per `intervalMs`, the last after the upload). */
  rssSamples: number[];
}

/**
 * Runs `storage.putFile(key, file)` while sampling this process's RSS, heap and Buffers every
 * `intervalMs` (default 100). A peak between two samples is still caught: when the kernel's
 * high-water mark (`maxRSS`) rose during the upload, that is the peak.
 */
export async function measurePutFile(
  storage: Storage,
  key: string,
  file: string,
  intervalMs = 100,
): Promise<UploadMemory> {
  const before = process.memoryUsage();
  const maxRssBefore = process.resourceUsage().maxRSS;
  let rssPeak = before.rss;
  let heapUsedPeak = before.heapUsed;
  let buffersPeak = before.arrayBuffers;
  const rssSamples: number[] = [];
  const sample = () => {
    const m = process.memoryUsage();
    rssPeak = Math.max(rssPeak, m.rss);
    heapUsedPeak = Math.max(heapUsedPeak, m.heapUsed);
    buffersPeak = Math.max(buffersPeak, m.arrayBuffers);
    rssSamples.push(m.rss);
  };
  const timer = setInterval(sample, intervalMs);
  const started = performance.now();
  let bytes: number;
  try {
    ({ bytes } = await storage.putFile(key, file));
  } finally {
    clearInterval(timer);
  }
  const seconds = (performance.now() - started) / 1000;
  sample();
  // maxRSS is in KiB and only ever rises; if it did, the process's peak was during the upload.
  const maxRssAfter = process.resourceUsage().maxRSS;
  if (maxRssAfter > maxRssBefore) rssPeak = Math.max(rssPeak, maxRssAfter * 1024);
  return {
    bytes,
    seconds,
    rssBefore: before.rss,
    rssPeak,
    heapUsedBefore: before.heapUsed,
    heapUsedPeak,
    buffersBefore: before.arrayBuffers,
    buffersPeak,
    rssSamples,
  };
}
