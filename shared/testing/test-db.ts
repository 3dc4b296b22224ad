import { createHash, randomBytes } from 'node:crypto';
import pg from 'pg';
import { migrations } from '../../migrations/index.ts';

/** Admin connection for the test run; the CI machine trusts local connections as `postgres`. */
export const TEST_PG_ADMIN_URL =
  process.env.TEST_PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** The migrated template every test file clones; its name changes whenever the migrations do. */
export function templateDbName(): string {
  const h = createHash('sha1')
    .update(migrations.map((m) => m.name).join(','))
    .digest('hex')
    .slice(0, 10);
  return `rm_test_tpl_${h}`;
}

export function dbUrl(name: string): string {
  const u = new URL(TEST_PG_ADMIN_URL);
  u.pathname = `/${name}`;
  return u.toString();
}

export async function withAdmin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: TEST_PG_ADMIN_URL, connectionTimeoutMillis: 5_000 });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** A fresh database cloned from the template (milliseconds, unlike running migrations). */
export async function cloneTestDb(): Promise<{ name: string; url: string; drop(): Promise<void> }> {
  const name = `rm_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  await withAdmin((c) => c.query(`CREATE DATABASE "${name}" TEMPLATE "${templateDbName()}"`));
  return {
    name,
    url: dbUrl(name),
    drop: () =>
      withAdmin((c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)).then(() => undefined),
  };
}
