import { Router } from 'express';
import type { Knex } from 'knex';
import { appendAudit } from '../../../shared/audit/audit-log.ts';
import { NotFoundError } from '../../../shared/errors/http-errors.ts';
import { parseInput } from '../../../shared/validation/parse.ts';
import { decodeTimeCursor, encodeCursor, pageQuery } from '../../http/keyset-cursor.ts';
import { auditActor, principalOf } from '../../http/request-context.ts';
import { requireUser } from '../auth/authenticate.ts';
import type { SessionRow, SessionStore } from './session-store.ts';

/**
 * The caller's sign-ins (devices): every live session of the user, in every tenant they belong
 * to — it is their own data, and a stolen session must be killable from anywhere. API keys have
 * no sessions: 403.
 */
export function sessionRoutes(deps: { db: Knex; store: SessionStore }): Router {
  const r = Router();
  const { db, store } = deps;

  r.get('/v1/sessions', requireUser(), async (req, res) => {
    const p = principalOf(req);
    const q = parseInput(pageQuery, req.query);
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
  });

  r.delete('/v1/sessions/:id', requireUser(), async (req, res) => {
    const p = principalOf(req);
    const id = String(req.params.id);
    await db.transaction(async (trx) => {
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
    });
    res.status(204).end();
  });

  return r;
}
