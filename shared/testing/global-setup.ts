import { createDb } from '../db/db.ts';
import { migrateLatest } from '../db/migrate.ts';
import { dbUrl, isOrphanTestDb, templateDbName, withAdmin } from './test-db-admin.ts';

/**
 * Runs once per `vitest run`: builds the migrated template database that each test file
 * clones, and removes test databases a crashed earlier run left behind.
 */
export default async function setup(project: {
  provide(key: 'templateDb', value: string): void;
}): Promise<() => Promise<void>> {
  const tpl = templateDbName();
  await withAdmin(async (c) => {
    const stale = await c.query(`SELECT datname FROM pg_database WHERE datname LIKE 'rm\\_test\\_%'`);
    for (const row of stale.rows as Array<{ datname: string }>) {
      if (isOrphanTestDb(row.datname)) await c.query(`DROP DATABASE IF EXISTS "${row.datname}" WITH (FORCE)`);
    }
    await c.query(`CREATE DATABASE "${tpl}"`);
  });
  const db = createDb(dbUrl(tpl), { poolMax: 2 });
  try {
    await migrateLatest(db);
  } finally {
    await db.destroy();
  }
  project.provide('templateDb', tpl);
  return async () => {
    await withAdmin((c) => c.query(`DROP DATABASE IF EXISTS "${tpl}" WITH (FORCE)`));
  };
}
