import { parseArgs } from 'node:util';
import { loadConfig } from '../config/config.ts';
import { createLogger } from '../logging/logger.ts';
import { backupSettings } from './backup-deps.ts';
import { latestBackupId, restoreInto } from './restore.ts';

// `npm run restore -- <backup id | latest> [--target <postgres url>]`: restores into an empty
// database (default DATABASE_URL; created when missing), then checks every table's row count.
const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { target: { type: 'string' } },
});
const config = loadConfig();
const logger = createLogger(config.LOG_LEVEL, 'restore');
const settings = backupSettings(config);
try {
  const wanted = positionals[0];
  if (!wanted || positionals.length > 1)
    throw new Error('usage: npm run restore -- <backup id | latest> [--target <postgres url>]');
  const id = wanted === 'latest' ? await latestBackupId(settings.storage) : wanted;
  if (!id) throw new Error('there is no backup in storage');
  const targetUrl = values.target ?? config.DATABASE_URL;
  const { manifest, tables } = await restoreInto({ ...settings, logger, id, targetUrl });
  const target = new URL(targetUrl);
  console.log(
    JSON.stringify({
      restored: manifest.id,
      taken_at: manifest.taken_at,
      database: decodeURIComponent(target.pathname.slice(1)),
      rows: Object.values(tables).reduce((a, b) => a + b, 0),
      tables: Object.keys(tables).length,
    }),
  );
} catch (err) {
  console.error(`restore failed: ${(err as Error).message}`);
  process.exitCode = 1;
}
