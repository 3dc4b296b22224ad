import { type StreamOptions, streamEvents } from './events.ts';
import { createHttp, type Http } from './http.ts';
import { JobHandle, PendingJob } from './job-handle.ts';
import type {
  Account,
  AccountDeletion,
  ApiKey,
  ApiKeyWithSecret,
  CreateApiKeyRequest,
  CreateSupportTicketRequest,
  Estimate,
  ImageRequest,
  Job,
  JobKind,
  JobStatus,
  Notification,
  NotificationPage,
  NotificationQuery,
  Page,
  PublishRequest,
  RenderRequest,
  StreamedEvent,
  SupportTicket,
  TtsRequest,
  Usage,
  UsageEvent,
  WebhookDelivery,
  WebhookDeliveryQuery,
  YoutubeConnect,
  YoutubeConnection,
} from './types.ts';
import { type HeaderBag, testHeaders, type VerifyOptions, verifyWebhook } from './webhooks.ts';

export interface RendermillOptions {
  /** An API key (`rm_…`). Or pass `accessToken`. */
  apiKey?: string;
  /** A session's access token, or a function returning the current one (refreshed by the caller). */
  accessToken?: string | (() => string | undefined | Promise<string | undefined>);
  /** Default `https://api.rendermill.dev`. */
  baseUrl?: string;
  /** Retries after network errors, 429 and 5xx (never other 4xx). Default 3. */
  maxRetries?: number;
  /** Per-request timeout. Default 30 000 ms. */
  timeoutMs?: number;
  /** A fetch implementation. Default: the global fetch. */
  fetch?: typeof fetch;
}

export interface PostOptions {
  /** Idempotency-Key; a random one is sent when absent (and reused by the SDK's retries). */
  idempotencyKey?: string;
  signal?: AbortSignal;
}

export interface ListJobsOptions {
  status?: JobStatus;
  kind?: JobKind;
  /** Page size (1–100). Default 20. */
  limit?: number;
  cursor?: string;
  signal?: AbortSignal;
}

/** Async iteration over every item of a cursor-paged list (one request per page). */
async function* paginate<T>(fetchPage: (cursor: string | undefined) => Promise<Page<T>>, first?: string) {
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
  readonly http: Http;

  constructor(opts: RendermillOptions = {}) {
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

  private submit(path: string, body: unknown, opts: PostOptions = {}): PendingJob {
    return new PendingJob(
      (async () => {
        const res = await this.http.send('POST', path, { body, ...opts });
        const job = (await res.json()) as Job;
        return new JobHandle(this.http, job, res.headers.get('idempotent-replayed') === 'true');
      })(),
    );
  }

  private estimate<T = Estimate>(path: string, body: unknown, opts: PostOptions = {}): Promise<T> {
    return this.http.json<T>('POST', path, { body, ...opts });
  }

  readonly renders = {
    /** `POST /v1/renders` → a job handle; `.wait()` follows it to the end. */
    create: (body: RenderRequest, opts?: PostOptions) => this.submit('/v1/renders', body, opts),
    /** `POST /v1/renders/estimate`: quantities, price, quota after, and the refusal the submit would get. */
    estimate: <T = Estimate>(body: RenderRequest, opts?: PostOptions) =>
      this.estimate<T>('/v1/renders/estimate', body, opts),
  };

  readonly tts = {
    create: (body: TtsRequest, opts?: PostOptions) => this.submit('/v1/tts', body, opts),
    estimate: <T = Estimate>(body: TtsRequest, opts?: PostOptions) =>
      this.estimate<T>('/v1/tts/estimate', body, opts),
  };

  readonly images = {
    create: (body: ImageRequest, opts?: PostOptions) => this.submit('/v1/images', body, opts),
    estimate: <T = Estimate>(body: ImageRequest, opts?: PostOptions) =>
      this.estimate<T>('/v1/images/estimate', body, opts),
  };

  readonly jobs = {
    get: (id: string, opts: { signal?: AbortSignal } = {}) =>
      this.http.json<Job>('GET', `/v1/jobs/${enc(id)}`, opts),
    /** One page: `await rm.jobs.list().page()`; or iterate every job: `for await (const j of rm.jobs.list())`. */
    list: (opts: ListJobsOptions = {}) => {
      const page = (cursor?: string) =>
        this.http.json<Page<Job>>('GET', '/v1/jobs', {
          query: { status: opts.status, kind: opts.kind, limit: opts.limit, cursor },
          signal: opts.signal,
        });
      const iterator = paginate(page, opts.cursor);
      return Object.assign(iterator, { page: () => page(opts.cursor) });
    },
    /** A handle on an existing job (to `.wait()` for it). */
    handle: async (id: string) => new JobHandle(this.http, await this.jobs.get(id), false),
    cancel: (id: string, opts?: PostOptions) =>
      this.http.json<Job>('POST', `/v1/jobs/${enc(id)}/cancel`, opts),
    /**
     * `POST /v1/jobs/:id/publish` (member+, paid plans): a publish job for a succeeded render's video;
     * asked again while it is open, the same job. Its `result.url` is the video's link.
     */
    publish: (id: string, body: PublishRequest, opts?: PostOptions) =>
      this.submit(`/v1/jobs/${enc(id)}/publish`, body, opts),
    /**
     * The job's output. Without `to`: the Response body as a web ReadableStream. With `to` (Node):
     * writes the file there and answers its path and size.
     */
    download: async (id: string, opts: { to?: string; signal?: AbortSignal } = {}) => {
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
      await pipeline(Readable.fromWeb(res.body as Parameters<typeof Readable.fromWeb>[0]), file);
      return {
        stream: null,
        contentType: res.headers.get('content-type'),
        path: opts.to,
        bytes: file.bytesWritten,
      };
    },
  };

  readonly usage = {
    get: () => this.http.json<Usage>('GET', '/v1/usage'),
    /** The usage ledger, newest first: iterate, or `.page()` for one page. */
    events: (opts: { from?: string; to?: string; limit?: number; cursor?: string } = {}) => {
      const page = (cursor?: string) =>
        this.http.json<Page<UsageEvent>>('GET', '/v1/usage/events', {
          query: { from: opts.from, to: opts.to, limit: opts.limit, cursor },
        });
      return Object.assign(paginate(page, opts.cursor), { page: () => page(opts.cursor) });
    },
  };

  readonly apiKeys = {
    list: () => this.http.json<Page<ApiKey>>('GET', '/v1/api-keys'),
    create: (body: CreateApiKeyRequest, opts?: PostOptions) =>
      this.http.json<ApiKeyWithSecret>('POST', '/v1/api-keys', { body, ...opts }),
    rotate: (id: string, opts?: PostOptions) =>
      this.http.json<ApiKeyWithSecret>('POST', `/v1/api-keys/${enc(id)}/rotate`, opts),
    delete: (id: string) => this.http.json<void>('DELETE', `/v1/api-keys/${enc(id)}`),
  };

  readonly webhookDeliveries = {
    list: (opts: WebhookDeliveryQuery = {}) => {
      const page = (cursor?: string) =>
        this.http.json<Page<WebhookDelivery>>('GET', '/v1/webhook-deliveries', {
          query: { ...opts, cursor },
        });
      return Object.assign(paginate(page, opts.cursor), { page: () => page(opts.cursor) });
    },
    replay: (id: string, opts?: PostOptions) =>
      this.http.json<WebhookDelivery>('POST', `/v1/webhook-deliveries/${enc(id)}/replay`, opts),
  };

  /** The signed-in user's feed in this workspace (access tokens only: API keys get 403). */
  readonly notifications = {
    /** One page, newest first, with `unread_count` (all unread, not just this page's). */
    list: (opts: NotificationQuery = {}) =>
      this.http.json<NotificationPage>('GET', '/v1/notifications', { query: { ...opts } }),
    read: (id: string) => this.http.json<Notification>('POST', `/v1/notifications/${enc(id)}/read`),
    readAll: () => this.http.json<{ updated: number }>('POST', '/v1/notifications/read-all'),
  };

  /** Support tickets, handed to the helpdesk (or mailed) by a worker. */
  readonly support = {
    create: (body: CreateSupportTicketRequest, opts?: PostOptions) =>
      this.http.json<SupportTicket>('POST', '/v1/support/tickets', { body, ...opts }),
    list: (opts: { limit?: number; cursor?: string } = {}) =>
      this.http.json<Page<SupportTicket>>('GET', '/v1/support/tickets', { query: { ...opts } }),
    get: (id: string) => this.http.json<SupportTicket>('GET', `/v1/support/tickets/${enc(id)}`),
  };

  /** The workspace: name (rename: admin+), data export (admin+), deletion (owner, recent sign-in). */
  readonly account = {
    get: () => this.http.json<Account>('GET', '/v1/account'),
    rename: (name: string) => this.http.json<Account>('PATCH', '/v1/account', { body: { name } }),
    /** Answers the export job (the open one if there is one); its output is the ZIP. */
    export: (opts?: PostOptions) => this.http.json<Job>('POST', '/v1/account/export', opts),
    scheduleDeletion: (opts?: PostOptions) =>
      this.http.json<AccountDeletion>('POST', '/v1/account/delete', opts),
    cancelDeletion: (opts?: PostOptions) =>
      this.http.json<{ canceled: true; job_id: string }>('POST', '/v1/account/delete/cancel', opts),
  };

  /** The workspace's YouTube channel (connect and disconnect: admin+, a signed-in person). */
  readonly youtube = {
    get: () => this.http.json<YoutubeConnection>('GET', '/v1/integrations/youtube'),
    /** The Google consent URL; send the person's browser there. Google comes back to `/account?youtube=…`. */
    connect: () => this.http.json<YoutubeConnect>('GET', '/v1/integrations/youtube/connect'),
    /** Revokes the grant at Google, then forgets it (503 when Google did not confirm: try again). */
    disconnect: () => this.http.json<void>('DELETE', '/v1/integrations/youtube'),
  };

  readonly events = {
    /** The tenant's live events as an async iterator (resumes by itself after a dropped connection). */
    stream: (opts: StreamOptions = {}): AsyncGenerator<StreamedEvent> => streamEvents(this.http, opts),
  };

  readonly webhooks = {
    /** Verifies a webhook's Standard Webhooks signature over the raw body; returns the typed event. */
    verify: (
      rawBody: string | Uint8Array,
      headers: HeaderBag,
      secret: string | string[],
      opts?: VerifyOptions,
    ) => verifyWebhook(rawBody, headers, secret, opts),
    /** Signed headers for a payload, for your own tests. */
    testHeaders,
  };
}
