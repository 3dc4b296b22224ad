import type { Knex } from 'knex';
import type { TableRow } from '../db/tables.ts';

type Db = Knex | Knex.Transaction;

/** A `youtube_connections` row: the tenant's channel and its sealed refresh token. */
export type YoutubeConnectionRow = TableRow<'youtube_connections'>;

/** A pending authorisation (`youtube_oauth_states`), keyed by the hash of the state sent to Google. */
export type YoutubeOAuthStateRow = Omit<TableRow<'youtube_oauth_states'>, 'created_at'>;

/**
 * The store of `youtube_connections` and `youtube_oauth_states` (API: connect, callback, status,
 * disconnect; workers: the token a publish job refreshes from). Both are deleted with the tenant
 * (foreign keys, and the account deletion's sweep of every `tenant_id` table).
 */
export function createYoutubeConnectionStore() {
  return {
    /** Keeps a new pending authorisation; drops the tenant's expired ones on the way. */
    async saveState(db: Db, row: YoutubeOAuthStateRow): Promise<void> {
      await db('youtube_oauth_states')
        .where('tenant_id', row.tenant_id)
        .where('expires_at', '<=', db.fn.now())
        .delete();
      await db('youtube_oauth_states').insert(row);
    },

    /** Takes (deletes) a pending authorisation: a state works once, and only before it expires. */
    async takeState(db: Db, stateHash: string): Promise<YoutubeOAuthStateRow | null> {
      const [row] = await db('youtube_oauth_states').where('state_hash', stateHash).delete().returning('*');
      if (!row || row.expires_at.getTime() <= Date.now()) return null;
      return row;
    },

    async find(db: Db, tenantId: string): Promise<YoutubeConnectionRow | null> {
      return (await db('youtube_connections').where('tenant_id', tenantId).first()) ?? null;
    },

    /** Connecting again replaces the channel (one per tenant). */
    async upsert(db: Db, row: Omit<YoutubeConnectionRow, 'connected_at'>): Promise<YoutubeConnectionRow> {
      const [saved] = await db('youtube_connections')
        .insert(row)
        .onConflict('tenant_id')
        .merge({ ...row, connected_at: db.fn.now() })
        .returning('*');
      if (!saved) throw new Error(`youtube connection of ${row.tenant_id} was not saved`);
      return saved;
    },

    /** Removes the connection; returns the row it removed (to revoke its token), or null. */
    async remove(db: Db, tenantId: string): Promise<YoutubeConnectionRow | null> {
      const [row] = await db('youtube_connections').where('tenant_id', tenantId).delete().returning('*');
      return row ?? null;
    },
  };
}

export type YoutubeConnectionStore = ReturnType<typeof createYoutubeConnectionStore>;
