import { loadConfig } from '../config/config.ts';
import { createDb } from './db.ts';
import { ensureDatabase, migrateLatest } from './migrate.ts';

// `npm run migrate`: apply pending migrations and exit.
const config = loadConfig();
await ensureDatabase(config.DATABASE_URL);
const db = createDb(config.DATABASE_URL, { poolMax: 2 });
try {
  const applied = await migrateLatest(db);
  console.log(applied.length ? `applied: ${applied.join(', ')}` : 'database is up to date');
} finally {
  await db.destroy();
}
