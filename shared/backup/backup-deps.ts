import type { Config } from '../config/config.ts';
import { createLocalStorage } from '../storage/local-storage.ts';
import type { Storage } from '../storage/storage.ts';
import { parseBackupKey } from './backup-crypto.ts';

/** Storage, key and pg tool settings of `npm run backup` / `npm run restore`, from the configuration. */
export function backupSettings(config: Config): {
  storage: Storage;
  key: Buffer | null;
  pgBinDir?: string;
  timeoutMs: number;
} {
  return {
    storage: createLocalStorage(config.STORAGE_DIR),
    key: config.BACKUP_ENCRYPTION_KEY ? parseBackupKey(config.BACKUP_ENCRYPTION_KEY) : null,
    pgBinDir: config.BACKUP_PG_BIN_DIR,
    timeoutMs: config.BACKUP_TIMEOUT_SECONDS * 1000,
  };
}
