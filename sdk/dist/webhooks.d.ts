import type { RendermillEvent } from './types.ts';
/** The signature of a webhook did not check out (or its timestamp is too old or too new). */
export declare class WebhookVerificationError extends Error {
  name: string;
}
export type HeaderBag = Headers | Record<string, string | string[] | undefined>;
/** Default tolerance between the webhook-timestamp and now: 5 minutes, as the Standard Webhooks spec advises. */
export declare const DEFAULT_TOLERANCE_SECONDS = 300;
/** `v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>.<body>")>` (Standard Webhooks). */
export declare function sign(secret: string, id: string, timestamp: number, body: string): Promise<string>;
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
export declare function verifyWebhook(
  rawBody: string | Uint8Array,
  headers: HeaderBag,
  secret: string | string[],
  opts?: VerifyOptions,
): Promise<RendermillEvent>;
/**
 * Headers of a correctly signed webhook, for clients' own tests:
 * `await testHeaders({ payload, secret })` → `{ 'webhook-id', 'webhook-timestamp', 'webhook-signature' }`.
 */
export declare function testHeaders(args: {
  payload: string | object;
  secret: string;
  id?: string;
  timestamp?: number;
}): Promise<Record<'webhook-id' | 'webhook-timestamp' | 'webhook-signature', string>>;
