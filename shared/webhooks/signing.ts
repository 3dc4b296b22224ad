import { createHmac, randomBytes } from 'node:crypto';

/**
 * A new signing secret: `whsec_` + 24 random bytes in standard base64, the form the Standard
 * Webhooks libraries decode (their key is the bytes after the prefix).
 */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(24).toString('base64')}`;
}

/** The HMAC key of a `whsec_` secret (secrets from before this release may be base64url: Node reads both). */
function keyOf(secret: string): Buffer {
  return Buffer.from(secret.startsWith('whsec_') ? secret.slice(6) : secret, 'base64');
}

/** Standard Webhooks: `v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">`, one per secret, space separated. */
export function standardSignature(secrets: string[], id: string, timestamp: number, body: string): string {
  return secrets
    .map((s) => `v1,${createHmac('sha256', keyOf(s)).update(`${id}.${timestamp}.${body}`).digest('base64')}`)
    .join(' ');
}

/** The legacy `Rendermill-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">` (the whole secret string is the key). */
export function legacySignature(secrets: string[], timestamp: number, body: string): string {
  const v1 = secrets.map((s) => `v1=${createHmac('sha256', s).update(`${timestamp}.${body}`).digest('hex')}`);
  return [`t=${timestamp}`, ...v1].join(',');
}

/** The secrets that sign now: the current one, and the previous one while its overlap lasts. */
export function signingSecrets(
  row: {
    webhook_secret: string | null;
    webhook_secret_previous?: string | null;
    webhook_secret_previous_until?: Date | null;
  },
  now = new Date(),
): string[] {
  const out = row.webhook_secret ? [row.webhook_secret] : [];
  if (
    row.webhook_secret_previous &&
    row.webhook_secret_previous_until &&
    row.webhook_secret_previous_until > now
  ) {
    out.push(row.webhook_secret_previous);
  }
  return out;
}
