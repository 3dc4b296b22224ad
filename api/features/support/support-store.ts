import type { Knex } from 'knex';
import { POSITION_SQL } from '../../http/keyset-cursor.ts';

type Db = Knex | Knex.Transaction;

export interface TicketRow {
  id: string;
  tenant_id: string;
  subject: string;
  message: string;
  job_id: string | null;
  status: 'pending' | 'delivered' | 'failed';
  channel: 'freshdesk' | 'email' | 'outbox' | null;
  helpdesk_ticket_id: string | null;
  requester_email: string;
  created_at: Date;
  delivered_at: Date | null;
  position: string;
}

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
];

/** The API's statements on `support_tickets` (the worker's delivery owns the delivery columns). Scoped by tenant. */
export function createSupportStore() {
  const tickets = (db: Db, tenantId: string) =>
    db('support_tickets')
      .select(...COLUMNS, db.raw(`${POSITION_SQL} AS position`, ['created_at']))
      .where({ tenant_id: tenantId });

  return {
    async insert(
      db: Db,
      row: {
        id: string;
        tenant_id: string;
        user_id: string | null;
        api_key_id: string | null;
        requester_email: string;
        subject: string;
        message: string;
        job_id: string | null;
      },
    ): Promise<TicketRow> {
      await db('support_tickets').insert(row);
      const inserted = await tickets(db, row.tenant_id).where({ id: row.id }).first();
      return inserted as TicketRow;
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
      const row = (await db('users').select('email').where({ id: userId }).first()) as
        | { email: string }
        | undefined;
      return row?.email ?? null;
    },
  };
}
