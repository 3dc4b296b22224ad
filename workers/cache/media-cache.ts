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
 */
export async function cached<M>(
  storage: Storage,
  tenantId: string,
  key: string,
  ext: string,
  produce: () => Promise<{ localPath: string; meta: M }>,
): Promise<CacheEntry<M>> {
  const dataKey = tenantKey(tenantId, 'cache', `${key}.${ext}`);
  const metaKey = tenantKey(tenantId, 'cache', `${key}.json`);
  if ((await storage.stat(dataKey)) && (await storage.stat(metaKey))) {
    const chunks: Buffer[] = [];
    for await (const c of await storage.read(metaKey)) chunks.push(c as Buffer);
    return { key, dataKey, meta: JSON.parse(Buffer.concat(chunks).toString()) as M, hit: true };
  }
  const made = await produce();
  await storage.putFile(dataKey, made.localPath);
  // Meta last: an entry counts only once both halves exist.
  await storage.putBuffer(metaKey, Buffer.from(JSON.stringify(made.meta)));
  return { key, dataKey, meta: made.meta, hit: false };
}
