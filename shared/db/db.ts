import knexFactory, { type Knex } from 'knex';
import pg from 'pg';

export type { Knex };

// Postgres bigint/numeric come back as strings by default; our counters fit in a double.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));
pg.types.setTypeParser(pg.types.builtins.NUMERIC, (v) => Number(v));

export interface DbOptions {
  /** Pool size (default 10). */
  poolMax?: number;
  /** Statement timeout in ms applied to every connection (default 30 s): no query hangs a request. */
  statementTimeoutMs?: number;
}

export function createDb(databaseUrl: string, opts: DbOptions = {}): Knex {
  return knexFactory({
    client: 'pg',
    connection: {
      connectionString: databaseUrl,
      statement_timeout: opts.statementTimeoutMs ?? 30_000,
      connectionTimeoutMillis: 5_000,
      application_name: 'rendermill',
    },
    pool: { min: 0, max: opts.poolMax ?? 10 },
    acquireConnectionTimeout: 10_000,
  });
}
