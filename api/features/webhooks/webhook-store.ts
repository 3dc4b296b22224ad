import type { Knex } from 'knex';
import type { TableRow } from '../../../shared/db/tables.ts';
import { POSITION_SQL } from '../../http/keyset-cursor.ts';

export type EndpointRow = TableRow<'webhook_endpoints'>;

export type DeliveryRow = Omit<TableRow<'webhook_deliveries'>, 'payload'> & {
  /** Sort key as exact text, for the next cursor. */
  position: string;
};

export type AttemptRow = Omit<TableRow<'webhook_attempts'>, 'id' | 'tenant_id'>;

export interface DeliveryFilter {
  status?: string;
  jobId?: string;
  event?: string;
  from?: Date;
  to?: Date;
  before?: { at: string; id: string };
  limit: number;
}

/** SQL of the default endpoint and the delivery log. Every query is tenant-scoped. */
export function createWebhookStore() {
  return {
    async endpoint(db: Knex | Knex.Transaction, tenantId: string): Promise<EndpointRow | undefined> {
      return db('webhook_endpoints').where({ tenant_id: tenantId }).first();
    },
    async putEndpoint(
      trx: Knex.Transaction,
      tenantId: string,
      url: string,
      events: string[] | null,
    ): Promise<EndpointRow> {
      const [row] = await trx('webhook_endpoints')
        .insert({ tenant_id: tenantId, url, events: events ? JSON.stringify(events) : null })
        .onConflict('tenant_id')
        .merge({ url, events: events ? JSON.stringify(events) : null, updated_at: trx.fn.now() })
        .returning('*');
      if (!row) throw new Error('INSERT … RETURNING gave no row');
      return row;
    },
    async deleteEndpoint(trx: Knex.Transaction, tenantId: string): Promise<boolean> {
      return (await trx('webhook_endpoints').where({ tenant_id: tenantId }).delete()) > 0;
    },
    async deliveries(db: Knex, tenantId: string, f: DeliveryFilter): Promise<DeliveryRow[]> {
      const q = db('webhook_deliveries')
        .select('*', db.raw(`${POSITION_SQL} AS position`, ['created_at']))
        .where({ tenant_id: tenantId })
        .orderBy([
          { column: 'created_at', order: 'desc' },
          { column: 'id', order: 'desc' },
        ])
        .limit(f.limit + 1);
      if (f.status) q.where('status', f.status);
      if (f.jobId) q.where({ job_id: f.jobId });
      if (f.event) q.where({ event: f.event });
      if (f.from) q.where('created_at', '>=', f.from);
      if (f.to) q.where('created_at', '<', f.to);
      if (f.before) q.whereRaw('(created_at, id) < (?::timestamptz, ?)', [f.before.at, f.before.id]);
      return q;
    },
    async delivery(
      db: Knex | Knex.Transaction,
      tenantId: string,
      id: string,
    ): Promise<DeliveryRow | undefined> {
      return db('webhook_deliveries')
        .select('*', db.raw(`${POSITION_SQL} AS position`, ['created_at']))
        .where({ tenant_id: tenantId, id })
        .first();
    },
    async attempts(db: Knex, tenantId: string, deliveryIds: string[]): Promise<AttemptRow[]> {
      if (deliveryIds.length === 0) return [];
      return db('webhook_attempts')
        .where({ tenant_id: tenantId })
        .whereIn('delivery_id', deliveryIds)
        .orderBy([{ column: 'attempted_at' }, { column: 'id' }]);
    },
    async markPending(trx: Knex.Transaction, tenantId: string, id: string): Promise<void> {
      await trx('webhook_deliveries')
        .update({ status: 'pending', next_retry_at: null, last_error: null })
        .where({ tenant_id: tenantId, id });
    },
  };
}

export type WebhookStore = ReturnType<typeof createWebhookStore>;
