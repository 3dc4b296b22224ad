import type { Knex } from 'knex';
import type { TableRow } from '../db/tables.ts';
import { type BackupManifest, backupKey } from './manifest.ts';

export type BackupRecord =
  | { manifest: BackupManifest; status: 'verified'; verification: 'checksum' | 'restore'; startedAt: Date }
  | { id: string; status: 'failed'; error: string; startedAt: Date };

/** Appends one backup run to the `backups` log. */
export async function recordBackup(db: Knex, r: BackupRecord): Promise<void> {
  if (r.status === 'failed') {
    await db('backups').insert({
      id: r.id,
      status: 'failed',
      started_at: r.startedAt,
      error: r.error.slice(0, 1000),
    });
    return;
  }
  const m = r.manifest;
  await db('backups').insert({
    id: m.id,
    status: 'verified',
    started_at: r.startedAt,
    taken_at: m.taken_at,
    verified_at: db.fn.now(),
    verification: r.verification,
    manifest_key: backupKey(m.id, 'manifest.json'),
    stored_bytes: m.dump.stored_bytes,
    encrypted: m.encryption !== null,
    key_fingerprint: m.encryption?.key_fingerprint ?? null,
    tables: JSON.stringify(m.tables),
  });
}

/** One row of the backup log as operators see it. */
export interface BackupView {
  id: string;
  status: 'verified' | 'failed';
  taken_at: string | null;
  verified_at: string | null;
  verification: 'checksum' | 'restore' | null;
  bytes: number | null;
  encrypted: boolean | null;
  error: string | null;
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);

/** The last verified backup and the most recent runs (failed ones included), newest first. */
export async function backupStatus(
  db: Knex,
  limit = 10,
): Promise<{ last_verified: BackupView | null; recent: BackupView[] }> {
  const view = (r: TableRow<'backups'>): BackupView => ({
    id: r.id,
    status: r.status,
    taken_at: iso(r.taken_at),
    verified_at: iso(r.verified_at),
    verification: r.verification,
    bytes: r.stored_bytes,
    encrypted: r.encrypted,
    error: r.error,
  });
  const [last, recent] = await Promise.all([
    db('backups').where({ status: 'verified' }).orderBy('taken_at', 'desc').first(),
    db('backups').orderBy('finished_at', 'desc').limit(limit),
  ]);
  return { last_verified: last ? view(last) : null, recent: recent.map(view) };
}

/**
 * When the last verified backup was taken, or null. The backups are the platform's, not a
 * tenant's; the dashboard's Account page shows this time without the operator's token.
 */
export async function lastVerifiedBackupAt(db: Knex): Promise<string | null> {
  const last = await db('backups').where({ status: 'verified' }).max('taken_at as at').first();
  return iso((last?.at as Date | null | undefined) ?? null);
}
