export interface HttpOptions {
  baseUrl: string;
  /** Returns the bearer credential (an API key or an access token) for each request. */
  credential: () => string | undefined | Promise<string | undefined>;
  /** Retries after network errors, 429 and 5xx. Default 3. */
  maxRetries: number;
  /** Per-attempt timeout. Default 30 000 ms. */
  timeoutMs: number;
  fetch: typeof fetch;
  userAgent?: string;
}
export interface RequestOptions {
  query?: Record<string, string | number | undefined | null>;
  body?: unknown;
  /** Sent as `Idempotency-Key`. POSTs get a random one when none is given (the same for every retry). */
  idempotencyKey?: string;
  signal?: AbortSignal;
  headers?: Record<string, string>;
}
/** Seconds of a Retry-After header (delta-seconds or an HTTP date); null when absent or unreadable. */
export declare function retryAfterSeconds(value: string | null): number | null;
/** Exponential backoff with full jitter: 0.5 s, 1 s, 2 s … capped at 8 s. */
export declare function backoffMs(attempt: number): number;
export declare function newIdempotencyKey(): string;
/** One HTTP client: auth, JSON, idempotency keys, bounded retries, typed errors. */
export declare function createHttp(opts: HttpOptions): {
  send: (method: string, path: string, ro?: RequestOptions) => Promise<Response>;
  json: <T>(method: string, path: string, ro?: RequestOptions) => Promise<T>;
  url: (path: string, query?: RequestOptions['query']) => string;
};
export type Http = ReturnType<typeof createHttp>;
