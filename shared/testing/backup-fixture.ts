import type { Knex } from 'knex';
import { recordBackup } from '../backup/backup-store.ts';

/**
 * Logs a verified backup taken at `takenAt` through the backups table's owner, as `npm run backup`
 * would after checking it (for tests of what reads the log, without running pg_dump).
 */
export async function recordVerifiedBackup(db: Knex, id: string, takenAt: string): Promise<void> {
  await recordBackup(db, {
    manifest: {
      format: 'rendermill-backup/1',
      id,
      taken_at: takenAt,
      database: { name: 'rendermill', server_version: '16', last_migration: null },
      pg_dump_version: '16',
      dump: {
        key: `backups/${id}/dump`,
        stored_bytes: 1,
        stored_sha256: 'a'.repeat(64),
        bytes: 1,
        sha256: 'b'.repeat(64),
      },
      encryption: null,
      tables: {},
    },
    status: 'verified',
    verification: 'checksum',
    startedAt: new Date(takenAt),
  });
}
