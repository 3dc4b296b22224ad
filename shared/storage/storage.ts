import type { Readable } from 'node:stream';

/**
 * Where outputs, exports and cache entries live. Keys are always tenant-prefixed
 * (`tenants/<tenant_id>/…`, see `tenantKey`) so a tenant's data can be listed and erased as a whole.
 */
export interface Storage {
  /**
   * Copies a local file in under `key`; returns its size. Atomic: readers never see half a file.
   * `sha256` (hex), when given, is kept with the object where the store can (S3 metadata) and
   * comes back from `stat`: `storage:migrate` uses it to skip what it already copied.
   */
  putFile(key: string, localPath: string, opts?: { sha256?: string }): Promise<{ bytes: number }>;
  putBuffer(key: string, data: Buffer): Promise<{ bytes: number }>;
  /** Size of the object (and its recorded sha256, if any), or null when absent. */
  stat(key: string): Promise<{ bytes: number; sha256?: string } | null>;
  /** Reads an object; throws `StorageNotFoundError` when absent. */
  read(key: string): Promise<Readable>;
  /** Copies an object out to a local file (for ffmpeg inputs). */
  download(key: string, localPath: string): Promise<void>;
  delete(key: string): Promise<void>;
  /** Deletes every object under a prefix; returns how many. */
  deletePrefix(prefix: string): Promise<number>;
  list(prefix: string): Promise<Array<{ key: string; bytes: number }>>;
  /** A local filesystem path for the key when the store is local (lets Express send it with ranges). */
  localPath(key: string): string | null;
  /**
   * A URL that downloads the object directly from the store for `ttlSeconds`, as an attachment
   * named `filename`; null when the store cannot sign one (local), and the API streams it.
   */
  presignedUrl(
    key: string,
    opts: { ttlSeconds: number; filename: string; contentType: string },
  ): Promise<string | null>;
}

export class StorageNotFoundError extends Error {
  override readonly name = 'StorageNotFoundError';
}

const SAFE_PART = /^[A-Za-z0-9._=-]+$/;

/** `tenantKey('ten_1', 'outputs', 'job_1.mp4')` → `tenants/ten_1/outputs/job_1.mp4`. Parts are checked: no `..`, no `/`. */
export function tenantKey(tenantId: string, ...parts: string[]): string {
  for (const p of [tenantId, ...parts]) {
    if (!SAFE_PART.test(p) || p === '.' || p === '..') throw new Error(`unsafe storage key part: ${p}`);
  }
  return ['tenants', tenantId, ...parts].join('/');
}

export function tenantPrefix(tenantId: string): string {
  return `${tenantKey(tenantId)}/`;
}
