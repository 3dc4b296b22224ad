import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { createDb } from '../db/db.ts';
import { ensureDatabase } from '../db/migrate.ts';
import type { Logger } from '../logging/logger.ts';
import type { Storage } from '../storage/storage.ts';
import { decryptFile, sha256File } from './backup-crypto.ts';
import { BACKUP_ID, type BackupManifest, backupKey, manifestSchema } from './manifest.ts';
import { findPgTools, type PgTools, pgConnection, runPgTool } from './pg-tools.ts';
import { countTables } from './table-counts.ts';

/** What reading and restoring a backup needs. */
export interface RestoreDeps {
  storage: Storage;
  /** BACKUP_ENCRYPTION_KEY; required for an encrypted backup. */
  key: Buffer | null;
  pgBinDir?: string;
  timeoutMs: number;
  logger?: Logger;
}

/** A backup that cannot be restored as asked (unknown id, wrong key, tampered file, target not empty). */
export class RestoreError extends Error {
  override readonly name = 'RestoreError';
}

async function readJson(storage: Storage, key: string): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const c of await storage.read(key)) chunks.push(c as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

/** The newest backup in storage (ids sort by time), or null. */
export async function latestBackupId(storage: Storage): Promise<string | null> {
  const ids = (await storage.list('backups/'))
    .filter((o) => o.key.endsWith('/manifest.json'))
    .map((o) => o.key.split('/')[1] ?? '')
    .filter((id) => BACKUP_ID.test(id))
    .sort();
  return ids.at(-1) ?? null;
}

export async function readManifest(storage: Storage, id: string): Promise<BackupManifest> {
  if (!BACKUP_ID.test(id)) throw new RestoreError(`not a backup id: ${JSON.stringify(id.slice(0, 60))}`);
  const stored = await storage.stat(backupKey(id, 'manifest.json'));
  if (!stored) throw new RestoreError(`no backup ${id} in storage`);
  const parsed = manifestSchema.safeParse(await readJson(storage, backupKey(id, 'manifest.json')));
  if (!parsed.success || parsed.data.id !== id) {
    throw new RestoreError(
      `manifest of ${id} is not valid: ${parsed.error?.issues[0]?.message ?? 'id mismatch'}`,
    );
  }
  return parsed.data;
}

/**
 * Downloads the dump, checks the stored object's sha256, decrypts it (the key must match the
 * manifest's fingerprint; GCM authenticates every byte and the backup id) and checks the plain
 * dump's sha256. Returns the plain file's path inside `dir`.
 */
async function fetchDump(deps: RestoreDeps, manifest: BackupManifest, dir: string): Promise<string> {
  const stored = path.join(dir, path.basename(manifest.dump.key));
  await deps.storage.download(manifest.dump.key, stored);
  if ((await sha256File(stored)) !== manifest.dump.stored_sha256) {
    throw new RestoreError(`backup ${manifest.id}: the stored dump does not match its manifest's sha256`);
  }
  if (!manifest.encryption) return stored;
  if (!deps.key) throw new RestoreError(`backup ${manifest.id} is encrypted: set BACKUP_ENCRYPTION_KEY`);
  const plain = path.join(dir, 'database.pgdump');
  try {
    await decryptFile(stored, plain, deps.key, manifest.id, manifest.encryption);
  } catch (err) {
    throw new RestoreError(`backup ${manifest.id} does not decrypt: ${(err as Error).message}`);
  }
  if ((await sha256File(plain)) !== manifest.dump.sha256) {
    throw new RestoreError(`backup ${manifest.id}: the decrypted dump does not match its manifest's sha256`);
  }
  return plain;
}

/** The tables whose data the dump holds, read from pg_restore's table of contents. */
async function dumpedTables(tools: PgTools, file: string, timeoutMs: number): Promise<Set<string>> {
  const { stdout } = await runPgTool(tools.pgRestore, ['--list', file], { timeoutMs });
  // e.g. "3412; 0 16390 TABLE DATA public jobs postgres"
  const tables = [...stdout.matchAll(/^\d+; \d+ \d+ TABLE DATA public (\S+) /gm)].map((m) => m[1] ?? '');
  return new Set(tables);
}

async function serverMajor(databaseUrl: string): Promise<number> {
  const c = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 5_000 });
  await c.connect();
  try {
    const r = await c.query("select current_setting('server_version_num')::int as v");
    return Math.floor(Number(r.rows[0].v) / 10_000);
  } finally {
    await c.end();
  }
}

/**
 * Checks a stored backup without restoring it: the manifest parses, the dump's checksums match,
 * it decrypts, and pg_restore reads a table of contents holding the data of every table the
 * manifest counted.
 */
export async function verifyStoredBackup(
  deps: RestoreDeps & { id: string; databaseUrl: string },
): Promise<BackupManifest> {
  const manifest = await readManifest(deps.storage, deps.id);
  const tools = await findPgTools(await serverMajor(deps.databaseUrl), deps.pgBinDir);
  const dir = await mkdtemp(path.join(os.tmpdir(), `rendermill-verify-${deps.id}-`));
  try {
    const file = await fetchDump(deps, manifest, dir);
    const listed = await dumpedTables(tools, file, deps.timeoutMs);
    const missing = Object.keys(manifest.tables).filter((t) => !listed.has(t));
    if (missing.length) throw new RestoreError(`backup ${deps.id} lacks the data of ${missing.join(', ')}`);
    return manifest;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * `npm run restore -- <backup>`: restores a backup into an empty database (created when missing),
 * in one transaction (`--single-transaction --exit-on-error`: all or nothing), then counts every
 * table and compares with the manifest. A target that already holds tables is refused: a restore
 * never merges into live data.
 */
export async function restoreInto(
  deps: RestoreDeps & { id: string; targetUrl: string },
): Promise<{ manifest: BackupManifest; tables: Record<string, number> }> {
  const manifest = await readManifest(deps.storage, deps.id);
  await ensureDatabase(deps.targetUrl);
  const target = createDb(deps.targetUrl, { poolMax: 2 });
  const dir = await mkdtemp(path.join(os.tmpdir(), `rendermill-restore-${deps.id}-`));
  try {
    const [row] = (await target('information_schema.tables')
      .count({ n: '*' })
      .whereNotIn('table_schema', ['pg_catalog', 'information_schema'])) as Array<{ n: number }>;
    const n = Number(row?.n ?? 0);
    if (n > 0) {
      throw new RestoreError(
        `the target database is not empty (${n} tables): restore into an empty database`,
      );
    }
    const tools = await findPgTools(await serverMajor(deps.targetUrl), deps.pgBinDir);
    const file = await fetchDump(deps, manifest, dir);
    const conn = pgConnection(deps.targetUrl);
    await runPgTool(
      tools.pgRestore,
      [
        '--no-owner',
        '--no-privileges',
        '--exit-on-error',
        '--single-transaction',
        `--dbname=${conn.url}`,
        file,
      ],
      { env: conn.env, timeoutMs: deps.timeoutMs },
    );
    const tables = await countTables(target);
    const differ = Object.entries(manifest.tables).filter(([t, count]) => tables[t] !== count);
    if (differ.length) {
      throw new RestoreError(
        `restored row counts differ from the manifest: ${differ.map(([t, c]) => `${t} ${tables[t]} ≠ ${c}`).join(', ')}`,
      );
    }
    deps.logger?.info({ backup_id: deps.id, tables: Object.keys(tables).length }, 'backup restored');
    return { manifest, tables };
  } finally {
    await target.destroy();
    await rm(dir, { recursive: true, force: true });
  }
}
