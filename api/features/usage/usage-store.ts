import type { Knex } from 'knex';

/** A ledger row as the usage API shows it. */
export interface LedgerRow {
  id: string;
  job_id: string;
  step: string;
  metric: string;
  quantity: number;
  occurred_at: string;
  reported_at: string | null;
  /** The row's sort position: occurred_at as text with microseconds (a JS Date would drop them). */
  position: string;
}

export interface LedgerQuery {
  tenantId: string;
  from?: Date;
  to?: Date;
  limit: number;
  /** Keyset position: rows strictly after it in the chosen order. */
  after?: { at: string; id: string };
  order: 'asc' | 'desc';
}

const ISO_US = `'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'`;

/**
 * One page of a tenant's ledger in (occurred_at, id) order, from the (tenant_id, occurred_at, id)
 * index: a page costs the same however long the ledger is.
 */
export async function ledgerPage(db: Knex, q: LedgerQuery): Promise<LedgerRow[]> {
  const query = db('usage_events')
    // The raw columns are beyond knex's inference: the row type is named here.
    .select<Array<Omit<LedgerRow, 'occurred_at'>>>(
      'id',
      'job_id',
      'step',
      'metric',
      'quantity',
      db.raw(`to_char(occurred_at AT TIME ZONE 'UTC', ${ISO_US}) AS position`),
      db.raw(`to_char(reported_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS reported_at`),
    )
    .where({ tenant_id: q.tenantId })
    .orderBy([
      { column: 'occurred_at', order: q.order },
      { column: 'id', order: q.order },
    ])
    .limit(q.limit);
  if (q.from) query.where('occurred_at', '>=', q.from);
  if (q.to) query.where('occurred_at', '<', q.to);
  if (q.after) {
    const op = q.order === 'asc' ? '>' : '<';
    query.whereRaw(`(occurred_at, id) ${op} (?::timestamptz, ?)`, [q.after.at, q.after.id]);
  }
  const rows = await query;
  // Millisecond RFC 3339 for clients; the microsecond position only travels inside cursors.
  return rows.map((r) => ({ ...r, occurred_at: `${r.position.slice(0, 23)}Z` }));
}
