import { createHmac, timingSafeEqual } from 'node:crypto';

/** Lifetime of a signed download link: long enough to start a download, short enough to leak little. */
export const DOWNLOAD_URL_TTL_SECONDS = 15 * 60;

// A fixed label derives a key of its own from JWT_SECRET, so a download signature can never be
// replayed as (or forged from) any other HMAC made with the same secret.
const KEY_LABEL = 'rendermill-download-v1';

function signingKey(secret: string): Buffer {
  return createHmac('sha256', secret).update(KEY_LABEL).digest();
}

function signature(secret: string, jobId: string, expires: number): string {
  return createHmac('sha256', signingKey(secret)).update(`${jobId}\n${expires}`).digest('hex');
}

export interface SignedDownload {
  /** `${publicUrl}/v1/files/<job_id>?expires=<unix>&sig=<hex>` */
  url: string;
  /** Unix seconds after which the link answers 403. */
  expires: number;
  sig: string;
}

/**
 * Signs a link to a job's output file. The signature is the only credential of `GET /v1/files/:jobId`,
 * so whoever holds the link can download until `expires`. `secret` is JWT_SECRET;
 * `ttlSeconds` defaults to {@link DOWNLOAD_URL_TTL_SECONDS}; `now` defaults to the clock.
 */
export function signDownload(opts: {
  secret: string;
  publicUrl: string;
  jobId: string;
  ttlSeconds?: number;
  now?: Date;
}): SignedDownload {
  const now = Math.floor((opts.now ?? new Date()).getTime() / 1000);
  const expires = now + (opts.ttlSeconds ?? DOWNLOAD_URL_TTL_SECONDS);
  const sig = signature(opts.secret, opts.jobId, expires);
  const base = opts.publicUrl.replace(/\/+$/, '');
  const url = `${base}/v1/files/${encodeURIComponent(opts.jobId)}?expires=${expires}&sig=${sig}`;
  return { url, expires, sig };
}

export type DownloadCheck = { ok: true } | { ok: false; reason: 'malformed' | 'bad_signature' | 'expired' };

/**
 * Checks a download link's query values (taken as `unknown`, straight from the request) in constant
 * time. The signature is checked before the expiry so a forged link learns nothing about the clock.
 */
export function verifyDownload(opts: {
  secret: string;
  jobId: string;
  expires: unknown;
  sig: unknown;
  now?: Date;
}): DownloadCheck {
  const { expires, sig } = opts;
  if (typeof expires !== 'string' || !/^\d{1,12}$/.test(expires)) return { ok: false, reason: 'malformed' };
  if (typeof sig !== 'string' || !/^[0-9a-f]{64}$/.test(sig)) return { ok: false, reason: 'malformed' };
  const expected = Buffer.from(signature(opts.secret, opts.jobId, Number(expires)), 'hex');
  if (!timingSafeEqual(expected, Buffer.from(sig, 'hex'))) return { ok: false, reason: 'bad_signature' };
  const now = Math.floor((opts.now ?? new Date()).getTime() / 1000);
  if (Number(expires) <= now) return { ok: false, reason: 'expired' };
  return { ok: true };
}
