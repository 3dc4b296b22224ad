import type { Knex } from 'knex';
import { z } from 'zod/v4';
import { isoTime, listOf, rfc3339Query } from '../../http/contract-schemas.ts';
import { decodeIdCursor, encodeCursor } from '../../http/keyset-cursor.ts';
import { defineOperation, type Operation } from '../../http/operation.ts';
import { principalOf } from '../../http/request-context.ts';
import type { AuditLogStore, AuditRow } from './audit-log-store.ts';

const listQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(200).default(50),
    cursor: z.string().max(200).optional(),
    action: z
      .string()
      .regex(
        /^[a-z_]+(\.[a-z_]+)*(\.\*)?$/,
        'must be an action like member.removed, or a family like member.*',
      )
      .max(100)
      .optional(),
    actor_id: z.string().min(1).max(100).optional(),
    from: rfc3339Query.optional(),
    to: rfc3339Query.optional(),
  })
  .refine((q) => !(q.from && q.to) || q.from < q.to, { path: ['to'], message: 'must be after from' });

const entryView = z.object({
  id: z.string(),
  action: z.string(),
  actor_type: z.string(),
  actor_id: z.string().nullable(),
  target_type: z.string().nullable(),
  target_id: z.string().nullable(),
  request_id: z.string().nullable(),
  ip: z.string().nullable(),
  metadata: z.record(z.string(), z.unknown()).nullable(),
  created_at: isoTime,
});

const view = (a: AuditRow) => ({
  id: String(a.id),
  action: a.action,
  actor_type: a.actor_type,
  actor_id: a.actor_id,
  target_type: a.target_type,
  target_id: a.target_id,
  request_id: a.request_id,
  ip: a.ip,
  metadata: a.metadata,
  created_at: a.created_at.toISOString(),
});

/** `GET /v1/audit-log` (admin+): newest first, filters combine with AND. */
export function auditLogRoutes(deps: { db: Knex; store: AuditLogStore }): Operation[] {
  return [
    defineOperation({
      operationId: 'listAuditLog',
      method: 'get',
      path: '/v1/audit-log',
      tag: 'audit-log',
      summary: 'The audit log, newest first',
      description:
        '`action` exact or a family (`member.*`), `actor_id`, `from` (inclusive) and `to` (exclusive) as RFC 3339 times.',
      auth: 'bearer',
      role: 'admin',
      query: listQuery,
      queryExample: { action: 'member.*', from: '2026-11-01T00:00:00Z', limit: '50' },
      responses: { 200: { description: 'One page of entries', body: listOf(entryView) } },
      handler: async ({ query: q }, req, res) => {
        const rows = await deps.store.list(deps.db, principalOf(req).tenantId, {
          limit: q.limit,
          ...(q.action ? { action: q.action } : {}),
          ...(q.actor_id ? { actorId: q.actor_id } : {}),
          ...(q.from ? { from: q.from } : {}),
          ...(q.to ? { to: q.to } : {}),
          ...(q.cursor !== undefined ? { beforeId: decodeIdCursor(q.cursor) } : {}),
        });
        const data = rows.slice(0, q.limit);
        const last = data.at(-1);
        res.json({
          data: data.map(view),
          next_cursor: rows.length > q.limit && last ? encodeCursor([last.id]) : null,
        });
      },
    }),
  ];
}
