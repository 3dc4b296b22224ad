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

/**
 * A content-addressed cache per tenant, kept in the tenant's storage prefix (never shared
 * across tenants: the key space is `tenants/<id>/cache/`). A retry, or an edited resubmission
 * that repeats a scene, finds the artefact instead of paying for it again.
 *
 * `produce` may answer another `key` than the one looked up: the artefact is then stored under
 * that key (narration spoken by a fallback engine must not be found later as the primary's).
 */
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
