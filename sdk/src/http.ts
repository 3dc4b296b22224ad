import { ConnectionError, errorFor, type Problem, RateLimitedError } from './errors.ts';

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
  /**
   * A long-lived answer (an event stream): the timeout covers getting its headers, not reading
   * its body. Default false.
   */
  stream?: boolean;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        reject(signal.reason);
      },
      { once: true },
    );
  });

/** Seconds of a Retry-After header (delta-seconds or an HTTP date); null when absent or unreadable. */
export function retryAfterSeconds(value: string | null): number | null {
  if (!value) return null;
  if (/^\d+(\.\d+)?$/.test(value.trim())) return Number(value);
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, (at - Date.now()) / 1000);
}

/** Exponential backoff with full jitter: 0.5 s, 1 s, 2 s … capped at 8 s. */
export function backoffMs(attempt: number): number {
  const cap = Math.min(8_000, 500 * 2 ** attempt);
  return cap / 2 + Math.random() * (cap / 2);
}

export function newIdempotencyKey(): string {
  return globalThis.crypto.randomUUID();
}

/** One HTTP client: auth, JSON, idempotency keys, bounded retries, typed errors. */
/**
 * The per-attempt deadline. A plain request's covers reading its body too (AbortSignal.timeout
 * does not keep Node alive); a stream's ends when its headers arrive, or it would cut every
 * event stream after `timeoutMs`.
 */
function attemptTimeout(ms: number, stream: boolean): { signal: AbortSignal; headersArrived: () => void } {
  if (!stream) return { signal: AbortSignal.timeout(ms), headersArrived: () => undefined };
  const ctl = new AbortController();
  const timer = setTimeout(
    () => ctl.abort(new DOMException('The stream did not answer in time', 'TimeoutError')),
    ms,
  );
  return { signal: ctl.signal, headersArrived: () => clearTimeout(timer) };
}

export function createHttp(opts: HttpOptions) {
  const base = opts.baseUrl.replace(/\/+$/, '');

  function url(path: string, query?: RequestOptions['query']): string {
    const u = new URL(path.startsWith('http') ? path : `${base}${path}`);
    for (const [k, v] of Object.entries(query ?? {}))
      if (v !== undefined && v !== null) u.searchParams.set(k, String(v));
    return u.toString();
  }

  /**
   * Sends a request and returns the raw Response (2xx/3xx). Network errors, 429 and 5xx are
   * retried up to `maxRetries` times, honouring Retry-After; other 4xx never are.
   */
  async function send(method: string, path: string, ro: RequestOptions = {}): Promise<Response> {
    const headers: Record<string, string> = { accept: 'application/json', ...ro.headers };
    if (opts.userAgent && !('document' in globalThis)) headers['user-agent'] = opts.userAgent;
    let body: string | undefined;
    if (ro.body !== undefined) {
      body = JSON.stringify(ro.body);
      headers['content-type'] = 'application/json';
    }
    if (method === 'POST') headers['idempotency-key'] = ro.idempotencyKey ?? newIdempotencyKey();
    const target = url(path, ro.query);
    for (let attempt = 0; ; attempt++) {
      const credential = await opts.credential();
      if (credential) headers.authorization = `Bearer ${credential}`;
      const { signal: timeout, headersArrived } = attemptTimeout(opts.timeoutMs, ro.stream ?? false);
      const signal = ro.signal ? AbortSignal.any([ro.signal, timeout]) : timeout;
      let res: Response;
      try {
        res = await opts.fetch(target, { method, headers, body, signal });
        headersArrived();
      } catch (err) {
        headersArrived();
        if (ro.signal?.aborted) throw ro.signal.reason;
        if (attempt >= opts.maxRetries) {
          throw new ConnectionError(`${method} ${path}: ${(err as Error)?.message ?? String(err)}`, err);
        }
        await sleep(backoffMs(attempt), ro.signal);
        continue;
      }
      if (res.status < 400) return res;
      const retryable = res.status === 429 || res.status >= 500;
      const wait = retryAfterSeconds(res.headers.get('retry-after'));
      if (retryable && attempt < opts.maxRetries) {
        await res.body?.cancel().catch(() => undefined);
        await sleep(wait !== null ? Math.min(wait * 1000, 60_000) : backoffMs(attempt), ro.signal);
        continue;
      }
      const text = await res.text().catch(() => '');
      let problem: Problem = { status: res.status };
      try {
        problem = text ? (JSON.parse(text) as Problem) : problem;
      } catch {
        problem = { status: res.status, detail: text.slice(0, 500) };
      }
      const err = errorFor(res.status, problem, res.headers.get('x-request-id'));
      if (err instanceof RateLimitedError) err.retryAfterSeconds = wait;
      throw err;
    }
  }

  async function json<T>(method: string, path: string, ro: RequestOptions = {}): Promise<T> {
    const res = await send(method, path, ro);
    if (res.status === 204) return undefined as T;
    return (await res.json()) as T;
  }

  return { send, json, url };
}

export type Http = ReturnType<typeof createHttp>;
