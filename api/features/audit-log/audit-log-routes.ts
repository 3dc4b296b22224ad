import { Router } from 'express';
import type { Knex } from 'knex';
import { z } from 'zod';
import { parseInput } from '../../../shared/validation/parse.ts';
import { decodeIdCursor, encodeCursor } from '../../http/keyset-cursor.ts';
import { principalOf } from '../../http/request-context.ts';
import { requireRole } from '../auth/authenticate.ts';
import type { AuditLogStore, AuditRow } from './audit-log-store.ts';

const rfc3339 = z
  .string()
  .datetime({ offset: true, message: 'must be an RFC 3339 time, e.g. 2026-11-20T10:00:00Z' })
  .transform((v) => new Date(v));

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
    from: rfc3339.optional(),
    to: rfc3339.optional(),
  })
  .refine((q) => !(q.from && q.to) || q.from < q.to, { path: ['to'], message: 'must be after from' });

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
export function auditLogRoutes(deps: { db: Knex; store: AuditLogStore }): Router {
  const r = Router();
  r.get('/v1/audit-log', requireRole('admin'), async (req, res) => {
    const q = parseInput(listQuery, req.query);
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
  });
  return r;
}
