import { z } from 'zod';

/** Storage key of a backup's files: `backups/<id>/…`. */
export const backupKey = (id: string, file: string) => `backups/${id}/${file}`;

export const BACKUP_ID = /^bkp_\d{8}T\d{6}Z_[a-z0-9]{6}$/;

/**
 * What `npm run backup` writes beside the dump (`backups/<id>/manifest.json`): enough to check,
 * decrypt and restore the dump without the database it came from.
 */
export const manifestSchema = z.object({
  format: z.literal('rendermill-backup/1'),
  id: z.string().regex(BACKUP_ID),
  /** When the snapshot was taken (the dump and the counts are of that one snapshot). */
  taken_at: z.string().datetime(),
  database: z.object({
    name: z.string(),
    server_version: z.string(),
    /** The last migration applied at snapshot time. */
    last_migration: z.string().nullable(),
  }),
  pg_dump_version: z.string(),
  dump: z.object({
    /** Storage key of the dump (custom format; encrypted when `encryption` is set). */
    key: z.string(),
    /** Size and sha256 of the stored object, as uploaded. */
    stored_bytes: z.number().int().nonnegative(),
    stored_sha256: z.string().regex(/^[0-9a-f]{64}$/),
    /** Size and sha256 of the plain pg_dump file. */
    bytes: z.number().int().nonnegative(),
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
  }),
  encryption: z
    .object({
      algorithm: z.literal('aes-256-gcm'),
      key_fingerprint: z.string(),
      iv: z.string(),
      tag: z.string(),
    })
    .nullable(),
  /** Rows per table in the snapshot: a restore is checked against them. */
  tables: z.record(z.string(), z.number().int().nonnegative()),
});

export type BackupManifest = z.infer<typeof manifestSchema>;
