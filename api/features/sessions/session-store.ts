import type { Knex } from 'knex';
import type { TableRow } from '../../../shared/db/tables.ts';
import { POSITION_SQL } from '../../http/keyset-cursor.ts';

type Db = Knex | Knex.Transaction;

export type SessionRow = Pick<
  TableRow<'sessions'>,
  'id' | 'tenant_id' | 'ip' | 'user_agent' | 'created_at' | 'last_used_at' | 'expires_at'
> & {
  /** Sort key as exact text, for the next cursor. */
  position: string;
};

/** A user's own sessions. Every query is scoped by user: another user's session id reads as absent. */
export function createSessionStore() {
  const live = (db: Db, userId: string) =>
    db('sessions')
      // The raw `position` is beyond knex's inference: the row type is named here.
      .select<SessionRow[]>(
        'id',
        'tenant_id',
        'ip',
        'user_agent',
        'created_at',
        'last_used_at',
        'expires_at',
        db.raw(`${POSITION_SQL} AS position`, ['created_at']),
      )
      .where({ user_id: userId })
      .whereNull('revoked_at')
      .where('expires_at', '>', db.fn.now());

  return {
    /** Newest first; `limit + 1` rows tell the caller whether a next page exists. */
    async list(
      db: Db,
      userId: string,
      limit: number,
      before?: { at: string; id: string },
    ): Promise<SessionRow[]> {
      const q = live(db, userId)
        .orderBy([
          { column: 'created_at', order: 'desc' },
          { column: 'id', order: 'desc' },
        ])
        .limit(limit + 1);
      if (before) q.whereRaw('(created_at, id) < (?::timestamptz, ?)', [before.at, before.id]);
      return q;
    },

    /**
     * Ends one live session of this user. The access tokens it issued die with it: `authenticate`
     * checks the session on every request.
     */
    async revoke(db: Db, userId: string, id: string): Promise<SessionRow | undefined> {
      const row: SessionRow | undefined = await live(db, userId).where({ id }).forUpdate().first();
      if (!row) return undefined;
      await db('sessions').update({ revoked_at: db.fn.now(), revoked_reason: 'user_revoked' }).where({ id });
      return row;
    },
  };
}

export type SessionStore = ReturnType<typeof createSessionStore>;
