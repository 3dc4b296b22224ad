import { createHash } from 'node:crypto';
import pg from 'pg';
import { migrations } from '../../migrations/index.ts';

/** Admin connection for the test run; the CI machine trusts local connections as `postgres`. */
export const TEST_PG_ADMIN_URL =
  process.env.TEST_PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/**
 * The migrated template every test file of one `vitest run` clones. The name carries the run's
 * pid (several runs may share a machine) and a hash of the migration list.
 */
export function templateDbName(pid = process.pid): string {
  const h = createHash('sha1')
    .update(migrations.map((m) => m.name).join(','))
    .digest('hex')
    .slice(0, 10);
  return `rm_test_tpl_${pid}_${h}`;
}

/** Test databases whose creating process is gone (a crashed run) can be dropped safely. */
export function isOrphanTestDb(name: string): boolean {
  const m = /^rm_test_(?:tpl_)?(\d+)_/.exec(name);
  if (!m?.[1]) return false;
  try {
    process.kill(Number(m[1]), 0);
    return false;
  } catch {
    return true;
  }
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
