import type { RendermillEvent } from './types.ts';

/** The signature of a webhook did not check out (or its timestamp is too old or too new). */
export class WebhookVerificationError extends Error {
  override name = 'WebhookVerificationError';
}

export type HeaderBag = Headers | Record<string, string | string[] | undefined>;

/** Default tolerance between the webhook-timestamp and now: 5 minutes, as the Standard Webhooks spec advises. */
export const DEFAULT_TOLERANCE_SECONDS = 300;

function header(headers: HeaderBag, name: string): string | undefined {
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name) ?? undefined;
  const bag = headers as Record<string, string | string[] | undefined>;
  const key = Object.keys(bag).find((k) => k.toLowerCase() === name);
  const v = key === undefined ? undefined : bag[key];
  return Array.isArray(v) ? v[0] : v;
}

function toBase64(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

function fromBase64(text: string): Uint8Array<ArrayBuffer> {
  const bin = atob(text);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** `whsec_<base64>` → the HMAC key bytes. */
function keyOf(secret: string): Uint8Array<ArrayBuffer> {
  try {
    return fromBase64(secret.startsWith('whsec_') ? secret.slice(6) : secret);
  } catch {
    throw new WebhookVerificationError('The webhook secret is not a whsec_ base64 secret');
  }
}

/** `v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>.<body>")>` (Standard Webhooks). */
export async function sign(secret: string, id: string, timestamp: number, body: string): Promise<string> {
  const key = await crypto.subtle.importKey('raw', keyOf(secret), { name: 'HMAC', hash: 'SHA-256' }, false, [
    'sign',
  ]);
  const mac = await crypto.subtle.sign('HMAC', key, new TextEncoder().encode(`${id}.${timestamp}.${body}`));
  return `v1,${toBase64(new Uint8Array(mac))}`;
}

function equal(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return d === 0;
}

export interface VerifyOptions {
  /** Seconds the timestamp may differ from now. Default 300. */
  toleranceSeconds?: number;
  /** "Now" in seconds (tests). */
  now?: number;
}

/**
 * Verifies a Rendermill webhook (Standard Webhooks: `webhook-id`, `webhook-timestamp`,
 * `webhook-signature`) over the raw body, and returns the typed event. Pass several secrets
 * while rotating. Throws WebhookVerificationError.
 */
export async function verifyWebhook(
  rawBody: string | Uint8Array,
  headers: HeaderBag,
  secret: string | string[],
  opts: VerifyOptions = {},
): Promise<RendermillEvent> {
  const body = typeof rawBody === 'string' ? rawBody : new TextDecoder().decode(rawBody);
  const id = header(headers, 'webhook-id');
  const ts = header(headers, 'webhook-timestamp');
  const sigs = header(headers, 'webhook-signature');
  if (!id || !ts || !sigs)
    throw new WebhookVerificationError('Missing webhook-id, webhook-timestamp or webhook-signature');
  const timestamp = Number(ts);
  if (!/^\d+$/.test(ts)) throw new WebhookVerificationError('Invalid webhook-timestamp');
  const now = opts.now ?? Math.floor(Date.now() / 1000);
  if (Math.abs(now - timestamp) > (opts.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS)) {
    throw new WebhookVerificationError('The webhook-timestamp is too old or too new');
  }
  const offered = sigs.split(' ').filter((s) => s.startsWith('v1,'));
  for (const s of Array.isArray(secret) ? secret : [secret]) {
    const expected = await sign(s, id, timestamp, body);
    if (offered.some((o) => equal(o, expected))) {
      try {
        return JSON.parse(body) as RendermillEvent;
      } catch {
        throw new WebhookVerificationError('The webhook body is not JSON');
      }
    }
  }
  throw new WebhookVerificationError('No matching webhook signature');
}

/**
 * Headers of a correctly signed webhook, for clients' own tests:
 * `await testHeaders({ payload, secret })` → `{ 'webhook-id', 'webhook-timestamp', 'webhook-signature' }`.
 */
export async function testHeaders(args: {
  payload: string | object;
  secret: string;
  id?: string;
  timestamp?: number;
}): Promise<Record<'webhook-id' | 'webhook-timestamp' | 'webhook-signature', string>> {
  const body = typeof args.payload === 'string' ? args.payload : JSON.stringify(args.payload);
  const id = args.id ?? `msg_${globalThis.crypto.randomUUID()}`;
  const timestamp = args.timestamp ?? Math.floor(Date.now() / 1000);
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': await sign(args.secret, id, timestamp, body),
  };
}
