import type { Knex } from 'knex';
import { z } from 'zod/v4';
import { appendAudit } from '../../../shared/audit/audit-log.ts';
import { NotFoundError } from '../../../shared/errors/http-errors.ts';
import { NOTIFICATION_TYPES } from '../../../shared/notifications/notify.ts';
import { idParam, isoTime, nullableTime } from '../../http/contract-schemas.ts';
import { decodeTimeCursor, encodeCursor } from '../../http/keyset-cursor.ts';
import { defineOperation, type Operation } from '../../http/operation.ts';
import { auditActor, principalOf } from '../../http/request-context.ts';
import type { NotificationRow, NotificationStore } from './notification-store.ts';

const notificationSchema = z.object({
  id: z.string(),
  type: z.enum(NOTIFICATION_TYPES),
  title: z.string(),
  body: z.string(),
  link: z.string().nullable().describe('Dashboard path of the thing concerned'),
  target_type: z.string().nullable(),
  target_id: z.string().nullable(),
  created_at: isoTime,
  read_at: nullableTime,
});

const feedQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(50),
  cursor: z.string().max(200).optional(),
  unread: z.enum(['true', 'false']).optional().describe('`true`: only unread notifications'),
});

function view(n: NotificationRow) {
  return {
    id: n.id,
    type: n.type,
    title: n.title,
    body: n.body,
    link: n.link,
    target_type: n.target_type,
    target_id: n.target_id,
    created_at: n.created_at.toISOString(),
    read_at: n.read_at?.toISOString() ?? null,
  };
}

/**
 * The signed-in user's feed in the current tenant (the dashboard's bell). A feed belongs to a
 * person, so API keys get 403; another user's notification id reads as absent (404). Marking
 * read is audited like any other change.
 */
export function notificationRoutes(deps: { db: Knex; store: NotificationStore }): Operation[] {
  const { db, store } = deps;
  return [
    defineOperation({
      operationId: 'listNotifications',
      method: 'get',
      path: '/v1/notifications',
      tag: 'notifications',
      summary: 'Your notifications in this workspace, newest first',
      auth: 'user',
      query: feedQuery,
      queryExample: { limit: '20', unread: 'true' },
      responses: {
        200: {
          description: 'One page of the feed, and how many are unread in all',
          body: z.object({
            data: z.array(notificationSchema),
            next_cursor: z.string().nullable(),
            unread_count: z.number().int().min(0),
          }),
        },
      },
      handler: async ({ query: q }, req, res) => {
        const p = principalOf(req);
        const owner = { tenantId: p.tenantId, userId: p.userId! };
        const before = q.cursor === undefined ? undefined : decodeTimeCursor(q.cursor);
        const [rows, unread] = await Promise.all([
          store.list(db, owner, { limit: q.limit, before, unreadOnly: q.unread === 'true' }),
          store.unreadCount(db, owner),
        ]);
        const data = rows.slice(0, q.limit);
        const last = data.at(-1);
        res.json({
          data: data.map(view),
          next_cursor: rows.length > q.limit && last ? encodeCursor([last.position, last.id]) : null,
          unread_count: unread,
        });
      },
    }),
    defineOperation({
      operationId: 'readNotification',
      method: 'post',
      path: '/v1/notifications/:id/read',
      tag: 'notifications',
      summary: 'Mark one notification read',
      auth: 'user',
      params: z.object({ id: idParam }),
      responses: { 200: { description: 'The notification, read', body: notificationSchema } },
      handler: async ({ params }, req, res) => {
        const p = principalOf(req);
        const row = await db.transaction(async (trx) => {
          const read = await store.markRead(trx, { tenantId: p.tenantId, userId: p.userId! }, params.id);
          if (!read) throw new NotFoundError('Notification not found');
          await appendAudit(trx, {
            ...auditActor(req),
            tenantId: p.tenantId,
            action: 'notification.read',
            targetType: 'notification',
            targetId: read.id,
          });
          return read;
        });
        res.json(view(row));
      },
    }),
    defineOperation({
      operationId: 'readAllNotifications',
      method: 'post',
      path: '/v1/notifications/read-all',
      tag: 'notifications',
      summary: 'Mark every notification read',
      auth: 'user',
      responses: {
        200: {
          description: 'How many were unread',
          body: z.object({ updated: z.number().int().min(0) }),
          example: { updated: 3 },
        },
      },
      handler: async (_input, req, res) => {
        const p = principalOf(req);
        const updated = await db.transaction(async (trx) => {
          const n = await store.markAllRead(trx, { tenantId: p.tenantId, userId: p.userId! });
          if (n > 0) {
            await appendAudit(trx, {
              ...auditActor(req),
              tenantId: p.tenantId,
              action: 'notification.read_all',
              targetType: 'user',
              targetId: p.userId,
              metadata: { count: n },
            });
          }
          return n;
        });
        res.json({ updated });
      },
    }),
  ];
}
