import Stripe from 'stripe';

export type { Stripe };

export interface StripeClientOptions {
  /** sk_… key; without it there is no client and billing runs in local-ledger mode. */
  secretKey?: string;
  /** Base URL replacing https://api.stripe.com (a local test server); only scheme, host and port are used. */
  apiUrl?: string;
  /** Per-request timeout in ms. Default 10 000 (the SDK's own default is 80 s). */
  timeoutMs?: number;
  /**
   * SDK-level retries of network errors, 409, 429 and 5xx (with Stripe idempotency keys on
   * POSTs, so a retry cannot create twice). Default 2; the usage reporter passes 0 and
   * backs off itself across runs.
   */
  maxNetworkRetries?: number;
}

/** The real Stripe SDK, or null in local-ledger mode (no STRIPE_SECRET_KEY). */
export function createStripeClient(opts: StripeClientOptions): Stripe | null {
  if (!opts.secretKey) return null;
  const config: Stripe.StripeConfig = {
    timeout: opts.timeoutMs ?? 10_000,
    maxNetworkRetries: opts.maxNetworkRetries ?? 2,
    // Nothing about our traffic needs to reach Stripe's telemetry.
    telemetry: false,
    appInfo: { name: 'rendermill' },
  };
  if (opts.apiUrl) {
    const url = new URL(opts.apiUrl);
    config.host = url.hostname;
    config.protocol = url.protocol === 'http:' ? 'http' : 'https';
    config.port = url.port ? Number(url.port) : url.protocol === 'http:' ? 80 : 443;
  }
  return new Stripe(opts.secretKey, config);
}

/** Signs or checks webhook payloads without an API key (`Stripe.webhooks` is static). */
export const stripeWebhooks = Stripe.webhooks;

/** HTTP status of a Stripe SDK error (undefined for network errors and timeouts). */
export function stripeStatus(err: unknown): number | undefined {
  return err instanceof Stripe.errors.StripeError ? err.statusCode : undefined;
}

/**
 * Stripe answers 400 when a meter event's `identifier` was already accepted: the event was
 * delivered before (a resend after a crash), so the caller treats it as success.
 */
export function isDuplicateMeterEvent(err: unknown): boolean {
  if (!(err instanceof Stripe.errors.StripeError) || err.statusCode !== 400) return false;
  return (
    /duplicate/i.test(err.code ?? '') ||
    /already exists with (the )?identifier|identifier .*already exists/i.test(err.message)
  );
}
