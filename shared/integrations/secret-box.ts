import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { keyFingerprint, parseBackupKey } from '../backup/backup-crypto.ts';

/** Encrypts short secrets (OAuth tokens, PKCE verifiers) for storage in a text column. */
export interface SecretBox {
  /** Names the key (first 16 hex of its sha256), stored beside what it sealed. */
  readonly fingerprint: string;
  /** AES-256-GCM with a random 96-bit IV; `context` (e.g. the tenant id) is authenticated too. */
  seal(plain: string, context: string): string;
  /** Throws when the key, the context or the text does not match. */
  open(sealed: string, context: string): string;
}

/**
 * A {@link SecretBox} over INTEGRATIONS_ENCRYPTION_KEY (32 bytes, hex or base64). The context is
 * bound as additional data so a row copied to another tenant does not decrypt there.
 * Format: `v1.<iv>.<tag>.<ciphertext>`, each base64url.
 */
export function createSecretBox(keyText: string): SecretBox {
  const key = parseBackupKey(keyText);
  if (!key) throw new Error('the encryption key must be 32 bytes as 64 hex characters or base64');
  return {
    fingerprint: keyFingerprint(key),
    seal(plain, context) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      cipher.setAAD(Buffer.from(context));
      const data = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
      return ['v1', iv, cipher.getAuthTag(), data]
        .map((p) => (typeof p === 'string' ? p : p.toString('base64url')))
        .join('.');
    },
    open(sealed, context) {
      const [version, iv, tag, data] = sealed.split('.');
      if (version !== 'v1' || !iv || !tag || data === undefined) throw new Error('not a sealed secret');
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
      decipher.setAAD(Buffer.from(context));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(data, 'base64url')), decipher.final()]).toString(
        'utf8',
      );
    },
  };
}
