import { createHash } from 'node:crypto';
import { type Storage, tenantKey } from '../../shared/storage/storage.ts';

/** Bump when card rendering or audio processing changes, so old cache entries stop matching. */
export const RENDERER_VERSION = 'cards-1';

/** sha256 of the canonical JSON of everything that determines the artefact. */
export function cacheKey(inputs: Record<string, unknown>): string {
  const canonical = JSON.stringify(inputs, Object.keys(inputs).sort());
  return createHash('sha256').update(canonical).digest('hex');
}

export interface CacheEntry<M> {
  key: string;
  /** Storage key of the artefact */
  dataKey: string;
  meta: M;
  hit: boolean;
}

/** A cache entry of several files (e.g. a segment's video and audio). */
export interface CacheFilesEntry<M> {
  key: string;
  /** Storage key of each file, by extension */
  dataKeys: Record<string, string>;
  meta: M;
  hit: boolean;
}

/**
 * A content-addressed cache per tenant, kept in the tenant's storage prefix (never shared
 * across tenants: the key space is `tenants/<id>/cache/`). A retry, or an edited resubmission
 * that repeats a scene, finds the artefact instead of paying for it again.
 *
 * `produce` may answer another `key` than the one looked up: the artefact is then stored under
 * that key (narration spoken by a fallback engine must not be found later as the primary's).
 *
 * {@link cachedFiles} keeps one entry of several files (a segment's video and audio): one file per
 * extension plus its meta JSON, written last, so it counts only once all exist.
 */
export async function cachedFiles<M>(
  storage: Storage,
  tenantId: string,
  key: string,
  exts: readonly string[],
  produce: () => Promise<{ localPaths: Record<string, string>; meta: M }>,
): Promise<CacheFilesEntry<M>> {
  const dataKeys = Object.fromEntries(
    exts.map((ext) => [ext, tenantKey(tenantId, 'cache', `${key}.${ext}`)]),
  );
  const metaKey = tenantKey(tenantId, 'cache', `${key}.json`);
  const present = await Promise.all([...Object.values(dataKeys), metaKey].map((k) => storage.stat(k)));
  if (present.every(Boolean)) {
    const chunks: Buffer[] = [];
    for await (const c of await storage.read(metaKey)) chunks.push(c as Buffer);
    return { key, dataKeys, meta: JSON.parse(Buffer.concat(chunks).toString()) as M, hit: true };
  }
  const made = await produce();
  for (const ext of exts) {
    const localPath = made.localPaths[ext];
    if (!localPath) throw new Error(`cache entry ${key} produced no .${ext} file`);
    await storage.putFile(dataKeys[ext]!, localPath);
  }
  await storage.putBuffer(metaKey, Buffer.from(JSON.stringify(made.meta)));
  return { key, dataKeys, meta: made.meta, hit: false };
}

export async function cached<M>(
  storage: Storage,
  tenantId: string,
  key: string,
  ext: string,
  produce: () => Promise<{ localPath: string; meta: M; key?: string }>,
): Promise<CacheEntry<M>> {
  const keys = (k: string) => ({
    dataKey: tenantKey(tenantId, 'cache', `${k}.${ext}`),
    metaKey: tenantKey(tenantId, 'cache', `${k}.json`),
  });
  const { dataKey, metaKey } = keys(key);
  if ((await storage.stat(dataKey)) && (await storage.stat(metaKey))) {
    const chunks: Buffer[] = [];
    for await (const c of await storage.read(metaKey)) chunks.push(c as Buffer);
    return { key, dataKey, meta: JSON.parse(Buffer.concat(chunks).toString()) as M, hit: true };
  }
  const made = await produce();
  const stored = made.key ?? key;
  const target = keys(stored);
  await storage.putFile(target.dataKey, made.localPath);
  // Meta last: an entry counts only once both halves exist.
  await storage.putBuffer(target.metaKey, Buffer.from(JSON.stringify(made.meta)));
  return { key: stored, dataKey: target.dataKey, meta: made.meta, hit: false };
}
