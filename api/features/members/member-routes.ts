import { type Request, Router } from 'express';
import type { Knex } from 'knex';
import { z } from 'zod';
import { ROLES } from '../../../shared/auth/roles.ts';
import { parseInput } from '../../../shared/validation/parse.ts';
import { decodeTimeCursor, encodeCursor, pageQuery } from '../../http/keyset-cursor.ts';
import { auditActor, principalOf } from '../../http/request-context.ts';
import { requireRole } from '../auth/authenticate.ts';
import type { MemberActor, MemberService } from './member-service.ts';
import type { InviteRow, MemberRow, MemberStore } from './member-store.ts';

const inviteBody = z.object({
  email: z.string().trim().toLowerCase().email('must be a valid email address').max(254),
  role: z.enum(ROLES),
});
const roleBody = z.object({ role: z.enum(ROLES) });

function actorOf(req: Request): MemberActor {
  const p = principalOf(req);
  return { tenantId: p.tenantId, role: p.role, userId: p.userId, audit: auditActor(req) };
}

const memberView = (m: MemberRow) => ({
  user_id: m.user_id,
  email: m.email,
  role: m.role,
  joined_at: m.joined_at.toISOString(),
});

const inviteView = (i: InviteRow) => ({
  id: i.id,
  email: i.email,
  role: i.role,
  invited_by: i.invited_by,
  created_at: i.created_at.toISOString(),
  expires_at: i.expires_at.toISOString(),
});

/** `limit + 1` rows in, one page and its cursor out. */
function page<R extends { position: string }, V>(
  rows: R[],
  limit: number,
  id: (r: R) => string,
  view: (r: R) => V,
) {
  const data = rows.slice(0, limit);
  const last = data.at(-1);
  return {
    data: data.map(view),
    next_cursor: rows.length > limit && last ? encodeCursor([last.position, id(last)]) : null,
  };
}

/** Members and invites (README: Teams, sessions and the audit log). Reading is viewer+, managing is admin+. */
export function memberRoutes(deps: { db: Knex; store: MemberStore; members: MemberService }): Router {
  const r = Router();
  const { db, store, members } = deps;

  r.get('/v1/members', requireRole('viewer'), async (req, res) => {
    const q = parseInput(pageQuery, req.query);
    const after = q.cursor === undefined ? undefined : decodeTimeCursor(q.cursor);
    const rows = await store.list(db, principalOf(req).tenantId, q.limit, after);
    res.json(page(rows, q.limit, (m) => m.user_id, memberView));
  });

  r.patch('/v1/members/:user_id', requireRole('admin'), async (req, res) => {
    const userId = String(req.params.user_id);
    const { role } = parseInput(roleBody, req.body);
    res.json(memberView(await members.changeRole(actorOf(req), userId, role)));
  });

  r.delete('/v1/members/:user_id', requireRole('admin'), async (req, res) => {
    await members.remove(actorOf(req), String(req.params.user_id));
    res.status(204).end();
  });

  // Invitees' addresses are personal data of people who have not joined: admins only.
  r.get('/v1/invites', requireRole('admin'), async (req, res) => {
    const q = parseInput(pageQuery, req.query);
    const after = q.cursor === undefined ? undefined : decodeTimeCursor(q.cursor);
    const rows = await store.listInvites(db, principalOf(req).tenantId, q.limit, after);
    res.json(page(rows, q.limit, (i) => i.id, inviteView));
  });

  r.post('/v1/invites', requireRole('admin'), async (req, res) => {
    const body = parseInput(inviteBody, req.body);
    res.status(201).json(await members.invite(actorOf(req), body.email, body.role));
  });

  r.delete('/v1/invites/:id', requireRole('admin'), async (req, res) => {
    await members.revokeInvite(actorOf(req), String(req.params.id));
    res.status(204).end();
  });

  return r;
}
