import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';

/** How a backup file is encrypted; stored in its manifest. */
export interface BackupEncryption {
  algorithm: 'aes-256-gcm';
  /** First 16 hex of sha256(key): names the key a restore needs, reveals nothing of it. */
  key_fingerprint: string;
  iv: string;
  tag: string;
}

/** BACKUP_ENCRYPTION_KEY: 32 bytes as 64 hex characters or base64. Null when it is neither. */
export function parseBackupKey(value: string): Buffer | null {
  const trimmed = value.trim();
  if (/^[0-9a-f]{64}$/i.test(trimmed)) return Buffer.from(trimmed, 'hex');
  if (/^[A-Za-z0-9+/_-]{43}=?$/.test(trimmed)) {
    const b = Buffer.from(trimmed.replaceAll('-', '+').replaceAll('_', '/'), 'base64');
    if (b.length === 32) return b;
  }
  return null;
}

export function keyFingerprint(key: Buffer): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 16);
}

/**
 * Encrypts `input` into `output` with AES-256-GCM (random 96-bit IV; `aad`, the backup id, is
 * authenticated too, so a file cannot be passed off as another backup). Streams: memory stays flat.
 */
export async function encryptFile(
  input: string,
  output: string,
  key: Buffer,
  aad: string,
): Promise<BackupEncryption> {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(aad));
  await pipeline(createReadStream(input), cipher, createWriteStream(output));
  return {
    algorithm: 'aes-256-gcm',
    key_fingerprint: keyFingerprint(key),
    iv: iv.toString('base64'),
    tag: cipher.getAuthTag().toString('base64'),
  };
}

/** Decrypts what {@link encryptFile} wrote; rejects when the key, the file or the aad do not match. */
export async function decryptFile(
  input: string,
  output: string,
  key: Buffer,
  aad: string,
  enc: BackupEncryption,
): Promise<void> {
  if (keyFingerprint(key) !== enc.key_fingerprint) {
    throw new Error(
      `backup was encrypted with key ${enc.key_fingerprint}, BACKUP_ENCRYPTION_KEY is ${keyFingerprint(key)}`,
    );
  }
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(enc.iv, 'base64'));
  decipher.setAAD(Buffer.from(aad));
  decipher.setAuthTag(Buffer.from(enc.tag, 'base64'));
  await pipeline(createReadStream(input), decipher, createWriteStream(output));
}

export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(file), hash);
  return hash.digest('hex');
}
