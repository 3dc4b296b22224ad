import type { Knex } from 'knex';
import type { TableRow } from '../../../shared/db/tables.ts';
import { POSITION_SQL } from '../../http/keyset-cursor.ts';

type Db = Knex | Knex.Transaction;

export type TicketRow = Pick<TableRow<'support_tickets'>, (typeof COLUMNS)[number]> & {
  /** Sort key as exact text, for the next cursor. */
  position: string;
};

const COLUMNS = [
  'id',
  'tenant_id',
  'subject',
  'message',
  'job_id',
  'status',
  'channel',
  'helpdesk_ticket_id',
  'requester_email',
  'created_at',
  'delivered_at',
] as const;

/** The API's statements on `support_tickets` (the worker's delivery owns the delivery columns). Scoped by tenant. */
export function createSupportStore() {
  const tickets = (db: Db, tenantId: string) =>
    db('support_tickets')
      // The raw `position` is beyond knex's inference: the row type is named here.
      .select<TicketRow[]>(...COLUMNS, db.raw(`${POSITION_SQL} AS position`, ['created_at']))
      .where({ tenant_id: tenantId });

  return {
    async insert(
      db: Db,
      row: Pick<
        TableRow<'support_tickets'>,
        'id' | 'tenant_id' | 'user_id' | 'api_key_id' | 'requester_email' | 'subject' | 'message' | 'job_id'
      >,
    ): Promise<TicketRow> {
      await db('support_tickets').insert(row);
      const inserted = await tickets(db, row.tenant_id).where({ id: row.id }).first();
      if (!inserted) throw new Error(`ticket ${row.id} vanished after its insert`);
      return inserted;
    },

    async get(db: Db, tenantId: string, id: string): Promise<TicketRow | undefined> {
      return tickets(db, tenantId).where({ id }).first();
    },

    /** Newest first; `limit + 1` rows tell the caller whether a next page exists. */
    async list(
      db: Db,
      tenantId: string,
      limit: number,
      before?: { at: string; id: string },
    ): Promise<TicketRow[]> {
      const q = tickets(db, tenantId)
        .orderBy([
          { column: 'created_at', order: 'desc' },
          { column: 'id', order: 'desc' },
        ])
        .limit(limit + 1);
      if (before) q.whereRaw('(created_at, id) < (?::timestamptz, ?)', [before.at, before.id]);
      return q;
    },

    async userEmail(db: Db, userId: string): Promise<string | null> {
      const row = await db('users').select('email').where({ id: userId }).first();
      return row?.email ?? null;
    },
  };
}
