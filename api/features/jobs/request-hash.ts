import { createHash } from 'node:crypto';

/** JSON with object keys sorted at every level, so key order in a body never changes its hash. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/**
 * What "the same body" means for `Idempotency-Key`: the kind plus the parsed request (defaults
 * applied), so `{}` and `{ "resolution": "720p" }` are the same render.
 */
export function requestHash(kind: string, request: unknown): string {
  return createHash('sha256').update(canonicalJson({ kind, request })).digest('hex');
}
