import { ConnectionError, errorFor, RateLimitedError } from './errors.js';

const sleep = (ms, signal) =>
  new Promise((resolve, reject) => {
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
export function retryAfterSeconds(value) {
  if (!value) return null;
  if (/^\d+(\.\d+)?$/.test(value.trim())) return Number(value);
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, (at - Date.now()) / 1000);
}
/** Exponential backoff with full jitter: 0.5 s, 1 s, 2 s … capped at 8 s. */
export function backoffMs(attempt) {
  const cap = Math.min(8_000, 500 * 2 ** attempt);
  return cap / 2 + Math.random() * (cap / 2);
}
export function newIdempotencyKey() {
  return globalThis.crypto.randomUUID();
}
/** One HTTP client: auth, JSON, idempotency keys, bounded retries, typed errors. */
export function createHttp(opts) {
  const base = opts.baseUrl.replace(/\/+$/, '');
  function url(path, query) {
    const u = new URL(path.startsWith('http') ? path : `${base}${path}`);
    for (const [k, v] of Object.entries(query ?? {}))
      if (v !== undefined && v !== null) u.searchParams.set(k, String(v));
    return u.toString();
  }
  /**
   * Sends a request and returns the raw Response (2xx/3xx). Network errors, 429 and 5xx are
   * retried up to `maxRetries` times, honouring Retry-After; other 4xx never are.
   */
  async function send(method, path, ro = {}) {
    const headers = { accept: 'application/json', ...ro.headers };
    if (opts.userAgent && !('document' in globalThis)) headers['user-agent'] = opts.userAgent;
    let body;
    if (ro.body !== undefined) {
      body = JSON.stringify(ro.body);
      headers['content-type'] = 'application/json';
    }
    if (method === 'POST') headers['idempotency-key'] = ro.idempotencyKey ?? newIdempotencyKey();
    const target = url(path, ro.query);
    for (let attempt = 0; ; attempt++) {
      const credential = await opts.credential();
      if (credential) headers.authorization = `Bearer ${credential}`;
      const timeout = AbortSignal.timeout(opts.timeoutMs);
      const signal = ro.signal ? AbortSignal.any([ro.signal, timeout]) : timeout;
      let res;
      try {
        res = await opts.fetch(target, { method, headers, body, signal });
      } catch (err) {
        if (ro.signal?.aborted) throw ro.signal.reason;
        if (attempt >= opts.maxRetries) {
          throw new ConnectionError(`${method} ${path}: ${err?.message ?? String(err)}`, err);
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
      let problem = { status: res.status };
      try {
        problem = text ? JSON.parse(text) : problem;
      } catch {
        problem = { status: res.status, detail: text.slice(0, 500) };
      }
      const err = errorFor(res.status, problem, res.headers.get('x-request-id'));
      if (err instanceof RateLimitedError) err.retryAfterSeconds = wait;
      throw err;
    }
  }
  async function json(method, path, ro = {}) {
    const res = await send(method, path, ro);
    if (res.status === 204) return undefined;
    return await res.json();
  }
  return { send, json, url };
}
