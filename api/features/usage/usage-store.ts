import type { Knex } from 'knex';
import { ValidationError } from '../../../shared/errors/http-errors.ts';

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
    .select(
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
  const rows = (await query) as Array<Omit<LedgerRow, 'occurred_at'>>;
  // Millisecond RFC 3339 for clients; the microsecond position only travels inside cursors.
  return rows.map((r) => ({ ...r, occurred_at: `${r.position.slice(0, 23)}Z` }));
}

const POSITION = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

export function encodeLedgerCursor(row: LedgerRow): string {
  return Buffer.from(JSON.stringify([row.position, row.id])).toString('base64url');
}

/** A cursor we made, or a 400 naming `/cursor` (never a SQL error). */
export function decodeLedgerCursor(cursor: string): { at: string; id: string } {
  const bad = () => new ValidationError([{ path: '/cursor', message: 'not a cursor this API returned' }]);
  if (cursor.length > 200 || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw bad();
  let parts: unknown;
  try {
    parts = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw bad();
  }
  if (!Array.isArray(parts) || parts.length !== 2) throw bad();
  const [at, id] = parts as unknown[];
  if (typeof at !== 'string' || typeof id !== 'string' || !POSITION.test(at)) throw bad();
  if (Number.isNaN(Date.parse(at)) || new Date(at).toISOString().slice(0, 19) !== at.slice(0, 19))
    throw bad();
  return { at, id };
}
