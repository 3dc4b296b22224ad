import { z } from 'zod/v4';

/** Schemas several operations share. Response objects are closed: a field added by accident fails the contract tests. */

/** RFC 9457 problem details, as `api/http/error-handler.ts` writes them. Extension members vary by code. */
export const problemSchema = z.looseObject({
  type: z.string(),
  title: z.string(),
  status: z.number().int(),
  detail: z.string().optional(),
  code: z.string(),
  request_id: z.string(),
  instance: z.string().optional(),
  errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
});

export const isoTime = z.string().describe('RFC 3339 time');
export const nullableTime = isoTime.nullable();

/** `{ data, next_cursor }` of every list. */
export function listOf<T extends z.ZodType>(item: T) {
  return z.object({ data: z.array(item), next_cursor: z.string().nullable() });
}

/** `?limit=&cursor=` of the member, invite and session lists. */
export const pageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(50),
  cursor: z.string().max(200).optional(),
});

/** Ids in paths: opaque strings; an unknown or foreign one is a 404. */
export const idParam = z.string().min(1);

/** RFC 3339 query times (`?from=&to=`). */
export const rfc3339Query = z.iso
  .datetime({ offset: true, message: 'must be an RFC 3339 time like 2026-11-01T00:00:00Z' })
  .transform((v) => new Date(v));

export const roleEnum = z.enum(['viewer', 'member', 'admin', 'owner']);
