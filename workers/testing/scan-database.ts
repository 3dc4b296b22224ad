import type { Knex } from 'knex';

export interface ScanHit {
  table: string;
  column: string;
  value: string;
}

/**
 * Looks for any of `needles` in every text-like column (text, varchar, char, json, jsonb) of
 * every table — including tables added after this helper was written. For erasure proofs.
 */
export async function scanDatabase(db: Knex, needles: string[]): Promise<ScanHit[]> {
  const { rows: columns } = await db.raw(
    `SELECT c.table_name, c.column_name
       FROM information_schema.columns c
       JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
      WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'
        AND c.data_type IN ('text', 'character varying', 'character', 'json', 'jsonb')
      ORDER BY 1, 2`,
  );
  const hits: ScanHit[] = [];
  for (const { table_name: table, column_name: column } of columns as Array<{
    table_name: string;
    column_name: string;
  }>) {
    const match = needles.map(() => 'strpos(??::text, ?) > 0').join(' OR ');
    const bindings = needles.flatMap((n) => [column, n]);
    const { rows } = await db.raw(`SELECT ??::text AS v FROM ?? WHERE ${match} LIMIT 5`, [
      column,
      table,
      ...bindings,
    ]);
    for (const r of rows as Array<{ v: string }>) hits.push({ table, column, value: r.v });
  }
  return hits;
}
