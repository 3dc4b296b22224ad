import { streamEvents } from './events.js';
import { createHttp } from './http.js';
import { JobHandle, PendingJob } from './job-handle.js';
import { testHeaders, verifyWebhook } from './webhooks.js';

/** Async iteration over every item of a cursor-paged list (one request per page). */
async function* paginate(fetchPage, first) {
  let cursor = first;
  for (;;) {
    const page = await fetchPage(cursor);
    for (const item of page.data) yield item;
    if (!page.next_cursor) return;
    cursor = page.next_cursor;
  }
}
const enc = encodeURIComponent;
/** The Rendermill API client. `new Rendermill({ apiKey })`; everything is on its resources. */
export class Rendermill {
  http;
  constructor(opts = {}) {
    const token = opts.accessToken;
    this.http = createHttp({
      baseUrl: opts.baseUrl ?? 'https://api.rendermill.dev',
      credential: typeof token === 'function' ? token : () => opts.apiKey ?? token,
      maxRetries: opts.maxRetries ?? 3,
      timeoutMs: opts.timeoutMs ?? 30_000,
      fetch: opts.fetch ?? ((...args) => globalThis.fetch(...args)),
      userAgent: 'rendermill-sdk/0.1.0',
    });
  }
  submit(path, body, opts = {}) {
    return new PendingJob(
      (async () => {
        const res = await this.http.send('POST', path, { body, ...opts });
        const job = await res.json();
        return new JobHandle(this.http, job, res.headers.get('idempotent-replayed') === 'true');
      })(),
    );
  }
  estimate(path, body, opts = {}) {
    return this.http.json('POST', path, { body, ...opts });
  }
  renders = {
    /** `POST /v1/renders` → a job handle; `.wait()` follows it to the end. */
    create: (body, opts) => this.submit('/v1/renders', body, opts),
    /** `POST /v1/renders/estimate`: quantities, price, quota after, and the refusal the submit would get. */
    estimate: (body, opts) => this.estimate('/v1/renders/estimate', body, opts),
  };
  tts = {
    create: (body, opts) => this.submit('/v1/tts', body, opts),
    estimate: (body, opts) => this.estimate('/v1/tts/estimate', body, opts),
  };
  images = {
    create: (body, opts) => this.submit('/v1/images', body, opts),
    estimate: (body, opts) => this.estimate('/v1/images/estimate', body, opts),
  };
  jobs = {
    get: (id, opts = {}) => this.http.json('GET', `/v1/jobs/${enc(id)}`, opts),
    /** One page: `await rm.jobs.list().page()`; or iterate every job: `for await (const j of rm.jobs.list())`. */
    list: (opts = {}) => {
      const page = (cursor) =>
        this.http.json('GET', '/v1/jobs', {
          query: { status: opts.status, kind: opts.kind, limit: opts.limit, cursor },
          signal: opts.signal,
        });
      const iterator = paginate(page, opts.cursor);
      return Object.assign(iterator, { page: () => page(opts.cursor) });
    },
    /** A handle on an existing job (to `.wait()` for it). */
    handle: async (id) => new JobHandle(this.http, await this.jobs.get(id), false),
    cancel: (id, opts) => this.http.json('POST', `/v1/jobs/${enc(id)}/cancel`, opts),
    /**
     * The job's output. Without `to`: the Response body as a web ReadableStream. With `to` (Node):
     * writes the file there and answers its path and size.
     */
    download: async (id, opts = {}) => {
      const res = await this.http.send('GET', `/v1/jobs/${enc(id)}/output`, { signal: opts.signal });
      if (!res.body) throw new Error('download without a body');
      if (!opts.to)
        return { stream: res.body, contentType: res.headers.get('content-type'), path: null, bytes: null };
      const [{ createWriteStream }, { Readable }, { pipeline }] = await Promise.all([
        import('node:fs'),
        import('node:stream'),
        import('node:stream/promises'),
      ]);
      const file = createWriteStream(opts.to);
      await pipeline(Readable.fromWeb(res.body), file);
      return {
        stream: null,
        contentType: res.headers.get('content-type'),
        path: opts.to,
        bytes: file.bytesWritten,
      };
    },
  };
  usage = {
    get: () => this.http.json('GET', '/v1/usage'),
    /** The usage ledger, newest first: iterate, or `.page()` for one page. */
    events: (opts = {}) => {
      const page = (cursor) =>
        this.http.json('GET', '/v1/usage/events', {
          query: { from: opts.from, to: opts.to, limit: opts.limit, cursor },
        });
      return Object.assign(paginate(page, opts.cursor), { page: () => page(opts.cursor) });
    },
  };
  apiKeys = {
    list: () => this.http.json('GET', '/v1/api-keys'),
    create: (body, opts) => this.http.json('POST', '/v1/api-keys', { body, ...opts }),
    rotate: (id, opts) => this.http.json('POST', `/v1/api-keys/${enc(id)}/rotate`, opts),
    delete: (id) => this.http.json('DELETE', `/v1/api-keys/${enc(id)}`),
  };
  webhookDeliveries = {
    list: (opts = {}) => {
      const page = (cursor) =>
        this.http.json('GET', '/v1/webhook-deliveries', { query: { ...opts, cursor } });
      return Object.assign(paginate(page, opts.cursor), { page: () => page(opts.cursor) });
    },
    replay: (id, opts) => this.http.json('POST', `/v1/webhook-deliveries/${enc(id)}/replay`, opts),
  };
  events = {
    /** The tenant's live events as an async iterator (resumes by itself after a dropped connection). */
    stream: (opts = {}) => streamEvents(this.http, opts),
  };
  webhooks = {
    /** Verifies a webhook's Standard Webhooks signature over the raw body; returns the typed event. */
    verify: (rawBody, headers, secret, opts) => verifyWebhook(rawBody, headers, secret, opts),
    /** Signed headers for a payload, for your own tests. */
    testHeaders,
  };
}
