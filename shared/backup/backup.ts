import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Knex } from 'knex';
import type { Logger } from '../logging/logger.ts';
import type { Storage } from '../storage/storage.ts';
import { encryptFile, sha256File } from './backup-crypto.ts';
import { recordBackup } from './backup-store.ts';
import { type BackupManifest, backupKey } from './manifest.ts';
import { findPgTools, pgConnection, runPgTool } from './pg-tools.ts';
import { restoreInto, verifyStoredBackup } from './restore.ts';
import { countTables } from './table-counts.ts';

/** What a backup needs; built by the CLI from the configuration. */
export interface BackupDeps {
  db: Knex;
  databaseUrl: string;
  storage: Storage;
  /** AES-256-GCM key (BACKUP_ENCRYPTION_KEY); null: the dump is stored in the clear. */
  key: Buffer | null;
  /** Directory of pg_dump/pg_restore (BACKUP_PG_BIN_DIR); default: PATH, then Debian's versioned dir. */
  pgBinDir?: string;
  /** Limit for each pg_dump/pg_restore run. */
  timeoutMs: number;
  logger?: Logger;
}

export interface BackupResult {
  manifest: BackupManifest;
  /** `checksum` (read back, sha256 and pg_restore's table of contents checked) or `restore` (also restored into a scratch database and counted). */
  verification: 'checksum' | 'restore';
}

function newBackupId(now = new Date()): string {
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  const suffix = Array.from(randomBytes(6), (b) => alphabet[b % alphabet.length]).join('');
  return `bkp_${stamp}_${suffix}`;
}

/**
 * `npm run backup`: one consistent snapshot of the database, dumped and described.
 *
 * A REPEATABLE READ transaction exports its snapshot; pg_dump (custom format) dumps exactly that
 * snapshot (`--snapshot`) while the same transaction counts each table's rows for the manifest, so
 * dump and counts agree whatever writes happen meanwhile. The dump is encrypted with AES-256-GCM when
 * a key is configured, uploaded with its manifest to `backups/<id>/` in the storage backend, read
 * back and verified (sha256, decryption, pg_restore's table of contents; with `restoreCheck` also
 * restored into a scratch database and counted), then recorded in `backups` (what
 * `GET /v1/ops/backups` shows). A failed backup is recorded as failed and rethrown.
 */
export async function takeBackup(
  deps: BackupDeps,
  opts: { restoreCheck?: boolean } = {},
): Promise<BackupResult> {
  const id = newBackupId();
  const dir = await mkdtemp(path.join(os.tmpdir(), `rendermill-${id}-`));
  const startedAt = new Date();
  try {
    const plain = path.join(dir, 'database.pgdump');
    const snapshot = await deps.db.transaction(
      async (trx) => {
        const [{ server_version, server_version_num, db_name }] = (
          await trx.raw(
            `select current_setting('server_version') as server_version,
                    current_setting('server_version_num')::int as server_version_num,
                    current_database() as db_name`,
          )
        ).rows;
        const tools = await findPgTools(Math.floor(server_version_num / 10_000), deps.pgBinDir);
        const { snap } = (await trx.raw('select pg_export_snapshot() as snap')).rows[0];
        const tables = await countTables(trx);
        const last = await trx('knex_migrations')
          .select('name')
          .orderBy('id', 'desc')
          .first()
          .catch(() => null);
        const conn = pgConnection(deps.databaseUrl);
        await runPgTool(
          tools.pgDump,
          ['--format=custom', `--snapshot=${snap}`, '--no-owner', `--file=${plain}`, `--dbname=${conn.url}`],
          { env: conn.env, timeoutMs: deps.timeoutMs },
        );
        return { server_version, db_name, tables, tools, lastMigration: (last?.name as string) ?? null };
      },
      { isolationLevel: 'repeatable read', readOnly: true },
    );

    const sha256 = await sha256File(plain);
    const bytes = (await stat(plain)).size;
    let stored = plain;
    let encryption: BackupManifest['encryption'] = null;
    if (deps.key) {
      stored = path.join(dir, 'database.pgdump.enc');
      encryption = await encryptFile(plain, stored, deps.key, id);
    }
    const dumpKey = backupKey(id, deps.key ? 'database.pgdump.enc' : 'database.pgdump');
    const manifest: BackupManifest = {
      format: 'rendermill-backup/1',
      id,
      taken_at: startedAt.toISOString(),
      database: {
        name: snapshot.db_name,
        server_version: snapshot.server_version,
        last_migration: snapshot.lastMigration,
      },
      pg_dump_version: snapshot.tools.version,
      dump: {
        key: dumpKey,
        stored_bytes: (await stat(stored)).size,
        stored_sha256: stored === plain ? sha256 : await sha256File(stored),
        bytes,
        sha256,
      },
      encryption,
      tables: snapshot.tables,
    };
    await deps.storage.putFile(dumpKey, stored);
    // Manifest last: a backup exists once its manifest does.
    await deps.storage.putBuffer(
      backupKey(id, 'manifest.json'),
      Buffer.from(JSON.stringify(manifest, null, 2)),
    );

    const verification = await verify(deps, id, opts.restoreCheck ?? false);
    await recordBackup(deps.db, { manifest, status: 'verified', verification, startedAt });
    deps.logger?.info(
      { backup_id: id, bytes: manifest.dump.stored_bytes, encrypted: !!encryption, verification },
      'backup taken and verified',
    );
    return { manifest, verification };
  } catch (err) {
    await recordBackup(deps.db, { id, status: 'failed', error: (err as Error).message, startedAt }).catch(
      () => undefined,
    );
    throw err;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function verify(deps: BackupDeps, id: string, restoreCheck: boolean): Promise<'checksum' | 'restore'> {
  if (!restoreCheck) {
    await verifyStoredBackup({ ...deps, id });
    return 'checksum';
  }
  // A scratch database on the same server, dropped afterwards whatever happens.
  const scratch = new URL(deps.databaseUrl);
  const name = `${decodeURIComponent(scratch.pathname.slice(1))}_verify_${randomBytes(4).toString('hex')}`;
  scratch.pathname = `/${name}`;
  try {
    await restoreInto({ ...deps, id, targetUrl: scratch.toString() });
  } finally {
    await deps.db.raw('drop database if exists ?? with (force)', [name]);
  }
  return 'restore';
}
