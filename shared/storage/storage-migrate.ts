import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { appendFile, readFile } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { mapLimit } from '../async/map-limit.ts';
import type { Storage } from './storage.ts';

export interface MigrateResult {
  /** Objects in the source. */
  total: number;
  /** Copied and verified in this run. */
  copied: number;
  /** Already copied and verified by an earlier run (journal and target agree). */
  skipped: number;
  /** Copies whose read-back checksum did not match (the bad copy is deleted; run again). */
  failed: Array<{ key: string; reason: string }>;
  bytes: number;
}

export interface MigrateOptions {
  /** A local store (its files are hashed and uploaded from their paths). */
  from: Storage;
  to: Storage;
  /**
   * Journal file: one `{"key","sha256"}` JSON line per verified copy. It makes a run resumable:
   * a key whose journal entry matches the source's checksum, and whose target object still has
   * that size and checksum, is skipped.
   */
  journal: string;
  /** Key prefix to copy; default `tenants/`. */
  prefix?: string;
  /** Objects copied at once; default 4. */
  concurrency?: number;
  onProgress?: (event: { key: string; outcome: 'copied' | 'skipped' | 'failed' }) => void;
}

async function sha256Of(stream: Readable): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of stream) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function readJournal(file: string): Promise<Map<string, string>> {
  const done = new Map<string, string>();
  const text = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return '';
    throw err;
  });
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      const entry = JSON.parse(line) as { key?: unknown; sha256?: unknown };
      if (typeof entry.key === 'string' && typeof entry.sha256 === 'string')
        done.set(entry.key, entry.sha256);
    } catch {
      // A line torn by a crash mid-write: that key is simply copied again.
    }
  }
  return done;
}

/**
 * Copies every object of a local store to another store (S3), verifying each copy by reading
 * it back and comparing SHA-256 checksums. Safe to interrupt and run again: verified copies are
 * journaled and skipped; a copy that fails verification is deleted and reported.
 */
export async function migrateStorage(o: MigrateOptions): Promise<MigrateResult> {
  const objects = await o.from.list(o.prefix ?? 'tenants/');
  const journal = await readJournal(o.journal);
  const result: MigrateResult = { total: objects.length, copied: 0, skipped: 0, failed: [], bytes: 0 };

  const one = async ({ key }: { key: string }) => {
    const localPath = o.from.localPath(key);
    if (!localPath) throw new Error('storage:migrate copies from a local store');
    const sha256 = await sha256Of(createReadStream(localPath));
    const target = await o.to.stat(key);
    if (journal.get(key) === sha256 && target?.sha256 === sha256) {
      result.skipped++;
      o.onProgress?.({ key, outcome: 'skipped' });
      return;
    }
    const { bytes } = await o.to.putFile(key, localPath, { sha256 });
    const copied = await sha256Of(await o.to.read(key));
    if (copied !== sha256) {
      await o.to.delete(key);
      result.failed.push({ key, reason: `checksum mismatch: source ${sha256}, copy ${copied}` });
      o.onProgress?.({ key, outcome: 'failed' });
      return;
    }
    await appendFile(o.journal, `${JSON.stringify({ key, sha256 })}\n`);
    result.copied++;
    result.bytes += bytes;
    o.onProgress?.({ key, outcome: 'copied' });
  };

  await mapLimit(objects, o.concurrency ?? 4, one);
  return result;
}
