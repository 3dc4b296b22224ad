import { createHash } from 'node:crypto';
import type { Knex } from 'knex';
import { databaseUnavailableReason } from './database-unavailable.ts';

/**
 * A piece of SQL with its `?` bindings, written by the owner of the table it touches, so a use
 * case can compose several owners' statements into one (as CTEs) without writing their SQL.
 */
export interface SqlPart {
  sql: string;
  bindings: readonly Knex.RawBinding[];
}

/** Joins parts with `separator`, keeping their bindings in order. */
export function joinSql(parts: readonly SqlPart[], separator: string): SqlPart {
  return { sql: parts.map((p) => p.sql).join(separator), bindings: parts.flatMap((p) => p.bindings) };
}

/**
 * Runs `part` as a named prepared statement: each pooled connection parses and plans it once,
 * then only binds and executes it (Postgres switches to a generic plan after five runs). For a
 * hot statement whose text is fixed, like the submit's, this saves the parse and plan that
 * `knex.raw` pays on every call. Knex cannot name statements, so this takes a connection from
 * knex's pool and uses pg's own `{ name, text, values }` query. `?` placeholders become `$n`
 * (the parts written here never contain a literal `?`). Errors are the statement's own, as from
 * `knex.raw`.
 */
export async function queryPrepared<Row>(db: Knex, part: SqlPart): Promise<Row[]> {
  let n = 0;
  const text = part.sql.replace(/\?/g, () => `$${++n}`);
  if (n !== part.bindings.length)
    throw new Error(`statement has ${n} placeholders for ${part.bindings.length} bindings`);
  const name = `rm_${createHash('sha1').update(text).digest('hex').slice(0, 20)}`;
  const connection: PgConnection = await db.client.acquireConnection();
  try {
    return (await connection.query<Row>({ name, text, values: [...part.bindings] })).rows;
  } catch (err) {
    // The server ended this backend (57P01…): its error arrives before the socket's end, which is
    // when knex marks a connection dead, so the next acquire could get it back. Mark it now, as
    // knex's pg dialect does on 'end', and the pool drops it instead.
    if (databaseUnavailableReason(err) !== null) connection.__knex__disposed ??= err;
    // A migration changed a table the statement returns rows of (a rolling deploy: this
    // replica prepared it before): Postgres refuses the old plan. Run it unprepared instead.
    if (!isStalePlan(err)) throw err;
    return (await db.raw<{ rows: Row[] }>(part.sql, part.bindings)).rows;
  } finally {
    await db.client.releaseConnection(connection);
  }
}

function isStalePlan(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | null;
  return (
    e?.code === '0A000' &&
    typeof e.message === 'string' &&
    e.message.includes('cached plan must not change result type')
  );
}

interface PgConnection {
  /** knex's mark of a dead connection (its pool validates on acquire and drops marked ones). */
  __knex__disposed?: unknown;
  query<Row>(q: { name: string; text: string; values: unknown[] }): Promise<{ rows: Row[] }>;
}
