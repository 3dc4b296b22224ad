import type { Knex } from 'knex';
import type { TableRow } from '../../../shared/db/tables.ts';
import { POSITION_SQL } from '../../http/keyset-cursor.ts';

type Db = Knex | Knex.Transaction;

export type NotificationRow = Pick<TableRow<'notifications'>, (typeof COLUMNS)[number]> & {
  /** Sort key as exact text, for the next cursor. */
  position: string;
};

/** Whose feed: a user in one tenant. Every statement is scoped by both. */
export interface FeedOwner {
  tenantId: string;
  userId: string;
}

const COLUMNS = [
  'id',
  'type',
  'title',
  'body',
  'link',
  'target_type',
  'target_id',
  'created_at',
  'read_at',
] as const;

export function createNotificationStore() {
  const feed = (db: Db, o: FeedOwner) =>
    db('notifications')
      // The raw `position` is beyond knex's inference: the row type is named here.
      .select<NotificationRow[]>(...COLUMNS, db.raw(`${POSITION_SQL} AS position`, ['created_at']))
      .where({ tenant_id: o.tenantId, user_id: o.userId });

  return {
    /** Newest first; `limit + 1` rows tell the caller whether a next page exists. */
    async list(
      db: Db,
      o: FeedOwner,
      opts: { limit: number; before?: { at: string; id: string }; unreadOnly: boolean },
    ): Promise<NotificationRow[]> {
      const q = feed(db, o)
        .orderBy([
          { column: 'created_at', order: 'desc' },
          { column: 'id', order: 'desc' },
        ])
        .limit(opts.limit + 1);
      if (opts.unreadOnly) q.whereNull('read_at');
      if (opts.before) q.whereRaw('(created_at, id) < (?::timestamptz, ?)', [opts.before.at, opts.before.id]);
      return q;
    },

    async unreadCount(db: Db, o: FeedOwner): Promise<number> {
      const row = await db('notifications')
        .count<{ n: string }[]>({ n: '*' })
        .where({ tenant_id: o.tenantId, user_id: o.userId })
        .whereNull('read_at')
        .first();
      return Number(row?.n ?? 0);
    },

    /** Marks one read (idempotent: an already read one keeps its first read time). */
    async markRead(db: Db, o: FeedOwner, id: string): Promise<NotificationRow | undefined> {
      await db('notifications')
        .update({ read_at: db.fn.now() })
        .where({ id, tenant_id: o.tenantId, user_id: o.userId })
        .whereNull('read_at');
      return feed(db, o).where({ id }).first();
    },

    async markAllRead(db: Db, o: FeedOwner): Promise<number> {
      return db('notifications')
        .update({ read_at: db.fn.now() })
        .where({ tenant_id: o.tenantId, user_id: o.userId })
        .whereNull('read_at');
    },
  };
}

export type NotificationStore = ReturnType<typeof createNotificationStore>;
