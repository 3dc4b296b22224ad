import { type StreamOptions } from './events.ts';
import { type Http } from './http.ts';
import { JobHandle, PendingJob } from './job-handle.ts';
import type {
  ApiKey,
  ApiKeyWithSecret,
  ImageRequest,
  Job,
  JobKind,
  JobStatus,
  Page,
  RenderRequest,
  StreamedEvent,
  TtsRequest,
  Usage,
  UsageEvent,
} from './types.ts';
import { type HeaderBag, testHeaders, type VerifyOptions } from './webhooks.ts';
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
/** The Rendermill API client. `new Rendermill({ apiKey })`; everything is on its resources. */
export declare class Rendermill {
  readonly http: Http;
  constructor(opts?: RendermillOptions);
  private submit;
  private estimate;
  readonly renders: {
    /** `POST /v1/renders` → a job handle; `.wait()` follows it to the end. */
    create: (body: RenderRequest, opts?: PostOptions) => PendingJob;
    /** `POST /v1/renders/estimate`: quantities, price, quota after, and the refusal the submit would get. */
    estimate: <T = Record<string, unknown>>(body: RenderRequest, opts?: PostOptions) => Promise<T>;
  };
  readonly tts: {
    create: (body: TtsRequest, opts?: PostOptions) => PendingJob;
    estimate: <T = Record<string, unknown>>(body: TtsRequest, opts?: PostOptions) => Promise<T>;
  };
  readonly images: {
    create: (body: ImageRequest, opts?: PostOptions) => PendingJob;
    estimate: <T = Record<string, unknown>>(body: ImageRequest, opts?: PostOptions) => Promise<T>;
  };
  readonly jobs: {
    get: (
      id: string,
      opts?: {
        signal?: AbortSignal;
      },
    ) => Promise<Job>;
    /** One page: `await rm.jobs.list().page()`; or iterate every job: `for await (const j of rm.jobs.list())`. */
    list: (opts?: ListJobsOptions) => AsyncGenerator<Job, void, unknown> & {
      page: () => Promise<Page<Job>>;
    };
    /** A handle on an existing job (to `.wait()` for it). */
    handle: (id: string) => Promise<JobHandle>;
    cancel: (id: string, opts?: PostOptions) => Promise<Job>;
    /**
     * The job's output. Without `to`: the Response body as a web ReadableStream. With `to` (Node):
     * writes the file there and answers its path and size.
     */
    download: (
      id: string,
      opts?: {
        to?: string;
        signal?: AbortSignal;
      },
    ) => Promise<
      | {
          stream: ReadableStream<Uint8Array<ArrayBuffer>>;
          contentType: string | null;
          path: null;
          bytes: null;
        }
      | {
          stream: null;
          contentType: string | null;
          path: string;
          bytes: number;
        }
    >;
  };
  readonly usage: {
    get: () => Promise<Usage>;
    /** The usage ledger, newest first: iterate, or `.page()` for one page. */
    events: (opts?: { from?: string; to?: string; limit?: number; cursor?: string }) => AsyncGenerator<
      UsageEvent,
      void,
      unknown
    > & {
      page: () => Promise<Page<UsageEvent>>;
    };
  };
  readonly apiKeys: {
    list: () => Promise<Page<ApiKey>>;
    create: (
      body: {
        name: string;
        role?: ApiKey['role'];
      },
      opts?: PostOptions,
    ) => Promise<ApiKeyWithSecret>;
    rotate: (id: string, opts?: PostOptions) => Promise<ApiKeyWithSecret>;
    delete: (id: string) => Promise<void>;
  };
  readonly webhookDeliveries: {
    list: <T = Record<string, unknown>>(opts?: {
      status?: string;
      job_id?: string;
      event?: string;
      from?: string;
      to?: string;
      limit?: number;
      cursor?: string;
    }) => AsyncGenerator<Awaited<T>, void, unknown> & {
      page: () => Promise<Page<T>>;
    };
    replay: (id: string, opts?: PostOptions) => Promise<Record<string, unknown>>;
  };
  readonly events: {
    /** The tenant's live events as an async iterator (resumes by itself after a dropped connection). */
    stream: (opts?: StreamOptions) => AsyncGenerator<StreamedEvent>;
  };
  readonly webhooks: {
    /** Verifies a webhook's Standard Webhooks signature over the raw body; returns the typed event. */
    verify: (
      rawBody: string | Uint8Array,
      headers: HeaderBag,
      secret: string | string[],
      opts?: VerifyOptions,
    ) => Promise<import('./types.ts').RendermillEvent>;
    /** Signed headers for a payload, for your own tests. */
    testHeaders: typeof testHeaders;
  };
}
