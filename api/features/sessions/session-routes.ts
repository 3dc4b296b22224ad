import type { Knex } from 'knex';
import { z } from 'zod/v4';
import { appendAudit } from '../../../shared/audit/audit-log.ts';
import type { TenantGenerations } from '../../../shared/auth/tenant-generation.ts';
import { NotFoundError } from '../../../shared/errors/http-errors.ts';
import { idParam, isoTime, listOf, pageQuery } from '../../http/contract-schemas.ts';
import { decodeTimeCursor, encodeCursor } from '../../http/keyset-cursor.ts';
import { defineOperation, type Operation } from '../../http/operation.ts';
import { auditActor, principalOf } from '../../http/request-context.ts';
import type { SessionRow, SessionStore } from './session-store.ts';

const sessionSchema = z.object({
  id: z.string(),
  current: z.boolean(),
  tenant_id: z.string(),
  ip: z.string().nullable(),
  user_agent: z.string().nullable(),
  created_at: isoTime,
  last_used_at: isoTime,
  expires_at: isoTime,
});

/**
 * The caller's sign-ins (devices): every live session of the user, in every tenant they belong
 * to — it is their own data, and a stolen session must be killable from anywhere. API keys have
 * no sessions: 403.
 */
export function sessionRoutes(deps: {
  db: Knex;
  store: SessionStore;
  generations: TenantGenerations;
}): Operation[] {
  const { db, store } = deps;
  return [
    defineOperation({
      operationId: 'listSessions',
      method: 'get',
      path: '/v1/sessions',
      tag: 'sessions',
      summary: "The caller's live sessions, in every tenant",
      auth: 'user',
      query: pageQuery,
      queryExample: { limit: '50' },
      responses: { 200: { description: 'One page of sessions', body: listOf(sessionSchema) } },
      handler: async ({ query: q }, req, res) => {
        const p = principalOf(req);
        const before = q.cursor === undefined ? undefined : decodeTimeCursor(q.cursor);
        const rows = await store.list(db, p.userId!, q.limit, before);
        const data = rows.slice(0, q.limit);
        const last = data.at(-1);
        res.json({
          data: data.map((s: SessionRow) => ({
            id: s.id,
            current: s.id === p.sessionId,
            tenant_id: s.tenant_id,
            ip: s.ip,
            user_agent: s.user_agent,
            created_at: s.created_at.toISOString(),
            last_used_at: s.last_used_at.toISOString(),
            expires_at: s.expires_at.toISOString(),
          })),
          next_cursor: rows.length > q.limit && last ? encodeCursor([last.position, last.id]) : null,
        });
      },
    }),
    defineOperation({
      operationId: 'deleteSession',
      method: 'delete',
      path: '/v1/sessions/:id',
      tag: 'sessions',
      summary: 'End one of your sessions (its tokens stop at once)',
      auth: 'user',
      params: z.object({ id: idParam }),
      responses: { 204: { description: 'Ended' } },
      handler: async ({ params }, req, res) => {
        const p = principalOf(req);
        const id = params.id;
        const ended = await db.transaction(async (trx) => {
          const ended = await store.revoke(trx, p.userId!, id);
          if (!ended) throw new NotFoundError('Session not found');
          // Logged where the session lived: another tenant's admins must not learn of it.
          await appendAudit(trx, {
            ...auditActor(req),
            tenantId: ended.tenant_id,
            action: 'session.revoked',
            targetType: 'session',
            targetId: id,
            metadata: { current: id === p.sessionId },
          });
          return ended;
        });
        // After commit: its access tokens stop on the very next request, on every replica.
        await deps.generations.bump([ended.tenant_id]);
        res.status(204).end();
      },
    }),
  ];
}
