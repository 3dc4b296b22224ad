import { parseArgs } from 'node:util';
import { loadConfig } from '../config/config.ts';
import { createDb } from '../db/db.ts';
import { createLogger } from '../logging/logger.ts';
import { takeBackup } from './backup.ts';
import { backupSettings } from './backup-deps.ts';

// `npm run backup [-- --restore-check]`: dump, encrypt, upload, verify, record; prints the manifest summary.
const { values } = parseArgs({ options: { 'restore-check': { type: 'boolean', default: false } } });
const config = loadConfig();
const logger = createLogger(config.LOG_LEVEL, 'backup');
const db = createDb(config.DATABASE_URL, {
  poolMax: 2,
  statementTimeoutMs: config.BACKUP_TIMEOUT_SECONDS * 1000,
});
try {
  const { manifest, verification } = await takeBackup(
    { db, databaseUrl: config.DATABASE_URL, logger, ...backupSettings(config) },
    { restoreCheck: values['restore-check'] },
  );
  if (!manifest.encryption) logger.warn('BACKUP_ENCRYPTION_KEY is unset: this backup is stored unencrypted');
  console.log(
    JSON.stringify({
      id: manifest.id,
      taken_at: manifest.taken_at,
      key: manifest.dump.key,
      bytes: manifest.dump.stored_bytes,
      encrypted: manifest.encryption !== null,
      verification,
      tables: manifest.tables,
    }),
  );
} catch (err) {
  console.error(`backup failed: ${(err as Error).message}`);
  process.exitCode = 1;
} finally {
  await db.destroy();
}
