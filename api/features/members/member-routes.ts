import type { Request } from 'express';
import type { Knex } from 'knex';
import { z } from 'zod/v4';
import { idParam, isoTime, listOf, pageQuery, roleEnum } from '../../http/contract-schemas.ts';
import { decodeTimeCursor, encodeCursor } from '../../http/keyset-cursor.ts';
import { defineOperation, type Operation } from '../../http/operation.ts';
import { auditActor, principalOf } from '../../http/request-context.ts';
import { emailField } from '../auth/auth-routes.ts';
import type { MemberActor, MemberService } from './member-service.ts';
import type { InviteRow, MemberRow, MemberStore } from './member-store.ts';

const inviteBody = z.object({ email: emailField, role: roleEnum });
const roleBody = z.object({ role: roleEnum });
const memberSchema = z.object({ user_id: z.string(), email: z.string(), role: roleEnum, joined_at: isoTime });
const inviteSchema = z.object({
  id: z.string(),
  email: z.string(),
  role: roleEnum,
  invited_by: z.string().nullable(),
  created_at: isoTime,
  expires_at: isoTime,
});

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
export function memberRoutes(deps: { db: Knex; store: MemberStore; members: MemberService }): Operation[] {
  const { db, store, members } = deps;
  const common = { tag: 'members', auth: 'bearer' } as const;
  const memberParams = z.object({ user_id: idParam });
  return [
    defineOperation({
      ...common,
      operationId: 'listMembers',
      method: 'get',
      path: '/v1/members',
      summary: 'Who is in the team',
      query: pageQuery,
      queryExample: { limit: '50' },
      responses: { 200: { description: 'One page of members', body: listOf(memberSchema) } },
      handler: async ({ query }, req, res) => {
        const after = query.cursor === undefined ? undefined : decodeTimeCursor(query.cursor);
        const rows = await store.list(db, principalOf(req).tenantId, query.limit, after);
        res.json(page(rows, query.limit, (m) => m.user_id, memberView));
      },
    }),
    defineOperation({
      ...common,
      operationId: 'changeMemberRole',
      method: 'patch',
      path: '/v1/members/:user_id',
      summary: "Change a member's role",
      description: 'Only an owner grants or revokes owner; the last owner cannot be demoted (409).',
      role: 'admin',
      params: memberParams,
      body: roleBody,
      bodyExample: { role: 'viewer' },
      errors: [409],
      responses: { 200: { description: 'The member', body: memberSchema } },
      handler: async ({ params, body }, req, res) => {
        res.json(memberView(await members.changeRole(actorOf(req), params.user_id, body.role)));
      },
    }),
    defineOperation({
      ...common,
      operationId: 'removeMember',
      method: 'delete',
      path: '/v1/members/:user_id',
      summary: 'Remove a member (their sessions for this tenant end)',
      role: 'admin',
      params: memberParams,
      errors: [409],
      responses: { 204: { description: 'Removed' } },
      handler: async ({ params }, req, res) => {
        await members.remove(actorOf(req), params.user_id);
        res.status(204).end();
      },
    }),
    // Invitees' addresses are personal data of people who have not joined: admins only.
    defineOperation({
      ...common,
      operationId: 'listInvites',
      method: 'get',
      path: '/v1/invites',
      summary: 'Pending invites',
      role: 'admin',
      query: pageQuery,
      queryExample: { limit: '50' },
      responses: { 200: { description: 'One page of invites', body: listOf(inviteSchema) } },
      handler: async ({ query }, req, res) => {
        const after = query.cursor === undefined ? undefined : decodeTimeCursor(query.cursor);
        const rows = await store.listInvites(db, principalOf(req).tenantId, query.limit, after);
        res.json(page(rows, query.limit, (i) => i.id, inviteView));
      },
    }),
    defineOperation({
      ...common,
      operationId: 'createInvite',
      method: 'post',
      path: '/v1/invites',
      summary: 'Invite someone by email (never above your own role)',
      role: 'admin',
      body: inviteBody,
      bodyExample: { email: 'ada@example.com', role: 'member' },
      errors: [409],
      responses: {
        201: {
          description: 'The invite (the link is mailed)',
          body: z.object({ id: z.string(), email: z.string(), role: roleEnum, expires_at: isoTime }),
        },
      },
      handler: async ({ body }, req, res) => {
        res.status(201).json(await members.invite(actorOf(req), body.email, body.role));
      },
    }),
    defineOperation({
      ...common,
      operationId: 'deleteInvite',
      method: 'delete',
      path: '/v1/invites/:id',
      summary: 'Withdraw an invite',
      role: 'admin',
      params: z.object({ id: idParam }),
      responses: { 204: { description: 'Withdrawn' } },
      handler: async ({ params }, req, res) => {
        await members.revokeInvite(actorOf(req), params.id);
        res.status(204).end();
      },
    }),
  ];
}
