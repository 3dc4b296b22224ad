import type { Knex } from 'knex';

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
