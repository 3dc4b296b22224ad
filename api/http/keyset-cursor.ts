import { ValidationError } from '../../shared/errors/http-errors.ts';

/**
 * The one codec of list cursors (jobs, usage ledger, members, sessions, webhook deliveries, audit
 * log): opaque to clients, base64url of the last row's sort key as a JSON array. For
 * `(timestamp, id)` orders the timestamp travels as Postgres text with microseconds (`position`
 * columns below): a JS Date drops them and the next page would skip or repeat rows. Decoding
 * anything we did not make is a 400 naming `/cursor`, never a SQL error (a 500).
 */
export const POSITION_SQL = `to_char(?? AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

export function encodeCursor(parts: Array<string | number>): string {
  return Buffer.from(JSON.stringify(parts)).toString('base64url');
}

/** The cursor of a `(timestamp, id)` order: `at` is the row's microsecond `position`. */
export function encodeTimeCursor(at: string, id: string): string {
  return encodeCursor([at, id]);
}

/** `[timestamp, id]` from a cursor we made; anything else is a 400 naming `/cursor`. */
export function decodeTimeCursor(cursor: string): { at: string; id: string } {
  const parts = decodeParts(cursor);
  const [at, id] = parts;
  if (parts.length !== 2 || typeof at !== 'string' || typeof id !== 'string' || !TIMESTAMP.test(at)) {
    throw badCursor();
  }
  // Ids are short prefixed strings; an empty or huge one is not ours.
  if (id.length === 0 || id.length > 100) throw badCursor();
  // The calendar check keeps `2026-02-30` (or hour 24) from reaching SQL, where the cast would be
  // a 500; no row of ours is older than 1970.
  if (
    Number.isNaN(Date.parse(at)) ||
    new Date(at).toISOString().slice(0, 19) !== at.slice(0, 19) ||
    at < '1970'
  ) {
    throw badCursor();
  }
  return { at, id };
}

/** A positive integer id from a cursor we made (audit log order). */
export function decodeIdCursor(cursor: string): number {
  const [id, ...rest] = decodeParts(cursor);
  if (rest.length > 0 || typeof id !== 'number' || !Number.isSafeInteger(id) || id < 1) throw badCursor();
  return id;
}

function decodeParts(cursor: string): unknown[] {
  if (cursor.length > 200 || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw badCursor();
  try {
    const parsed: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(parsed)) return parsed;
  } catch {
    // fall through
  }
  throw badCursor();
}

function badCursor(): ValidationError {
  return new ValidationError([{ path: '/cursor', message: 'not a cursor this API returned' }]);
}
