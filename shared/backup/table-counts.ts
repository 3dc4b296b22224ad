import type { Knex } from 'knex';

/** Rows per base table of the public schema, as the given connection or transaction sees them. */
export async function countTables(db: Knex | Knex.Transaction): Promise<Record<string, number>> {
  const tables = (await db('information_schema.tables')
    .select('table_name')
    .where({ table_schema: 'public', table_type: 'BASE TABLE' })
    .orderBy('table_name')) as Array<{ table_name: string }>;
  const counts: Record<string, number> = {};
  for (const { table_name } of tables) {
    const [row] = (await db(table_name).count({ n: '*' })) as Array<{ n: number | string }>;
    counts[table_name] = Number(row?.n ?? 0);
  }
  return counts;
}
