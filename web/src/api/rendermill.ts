/**
 * The dashboard's ONE way to the API. Its surface mirrors `@rendermill/sdk` (issue 10:
 * `new Rendermill({ accessToken, baseUrl })`, `renders.create/estimate`, `jobs.*`, `usage.get`,
 * `apiKeys.*`, `events.stream`, typed errors) so that switching to the SDK is an import change.
 * Until the SDK is on main it is implemented here with `fetch`; nothing else in web/ calls fetch.
 */

export type JobStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'canceled';
export type JobKind = 'render' | 'tts' | 'image' | 'export' | 'deletion';
export type Role = 'owner' | 'admin' | 'member' | 'viewer';

export interface Job {
  id: string;
  kind: JobKind;
  status: JobStatus;
  progress: number;
  attempts: number;
  steps: Array<{
    name: string;
    status: string;
    started_at: string | null;
    finished_at: string | null;
    attempt: number;
    cache_hit: boolean;
  }>;
  estimate: Record<string, number>;
  usage: Array<{ metric: string; quantity: number }>;
  output: {
    url: string;
    content_type: string;
    bytes: number;
    duration_seconds: number | null;
    expires_at: string | null;
  } | null;
  error: { code: string; message: string } | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
}

export interface Page<T> {
  data: T[];
  next_cursor: string | null;
}

export interface Scene {
  text?: string;
  title?: string;
  image_url?: string;
  background?: string;
  duration?: number;
}

export interface RenderRequest {
  scenes: Scene[];
  resolution?: '720p' | '1080p' | '2160p';
  fps?: 24 | 25 | 30 | 60;
  voice?: string;
  metadata?: Record<string, unknown>;
}

export interface UsageMetric {
  used: number;
  reserved: number;
  limit: number | null;
  remaining: number | null;
}

export interface Usage {
  period: { start: string; end: string } | string;
  plan: string;
  overage: boolean;
  metrics: Record<string, UsageMetric>;
}

export interface Estimate {
  quantities?: Record<string, number>;
  price?: unknown;
  quota_after?: Record<string, unknown>;
  [k: string]: unknown;
}

export interface ApiKey {
  id: string;
  name: string;
  role: Role;
  prefix: string;
  last4: string;
  created_at: string;
  last_used_at: string | null;
}

export interface Me {
  user: { id: string; email: string } | null;
  tenant: { id: string; name: string; plan: string };
  role: Role;
  plan: string;
}

export interface SignedIn {
  access_token: string;
  expires_in: number;
  user: { id: string; email: string };
  tenant: { id: string; name: string; plan: string };
  role: Role;
}

export interface AccessToken {
  access_token: string;
  expires_in: number;
}

export interface Member {
  user_id: string;
  email: string;
  role: Role;
  joined_at: string;
}

export interface Invite {
  id: string;
  email: string;
  role: Role;
  invited_by: string | null;
  created_at: string;
  expires_at: string;
}

export interface SessionInfo {
  id: string;
  current: boolean;
  tenant_id: string;
  ip: string | null;
  user_agent: string | null;
  created_at: string;
  last_used_at: string;
  expires_at: string;
}

export interface AuditEntry {
  id: string;
  action: string;
  actor_type: string;
  actor_id: string | null;
  target_type: string | null;
  target_id: string | null;
  request_id: string | null;
  ip: string | null;
  metadata: Record<string, unknown> | null;
  created_at: string;
}

export interface RendermillEvent {
  id: string;
  type: string;
  data: Record<string, unknown>;
}

/** The problem+json body every API error carries. */
export interface Problem {
  status: number;
  code: string;
  detail?: string;
  request_id?: string;
  errors?: Array<{ path: string; message: string }>;
  [k: string]: unknown;
}

export class RendermillError extends Error {
  override readonly name: string = 'RendermillError';
  readonly status: number;
  readonly code: string;
  readonly requestId: string | undefined;
  readonly problem: Problem;
  constructor(problem: Problem) {
    super(problem.detail ?? problem.code);
    this.status = problem.status;
    this.code = problem.code;
    this.requestId = problem.request_id;
    this.problem = problem;
  }
}
export class AuthenticationError extends RendermillError {
  override readonly name = 'AuthenticationError';
}
export class ValidationError extends RendermillError {
  override readonly name = 'ValidationError';
  get paths(): Array<{ path: string; message: string }> {
    return this.problem.errors ?? [];
  }
}
export class QuotaExceededError extends RendermillError {
  override readonly name = 'QuotaExceededError';
}
export class UpgradeRequiredError extends RendermillError {
  override readonly name = 'UpgradeRequiredError';
}
export class NotFoundError extends RendermillError {
  override readonly name = 'NotFoundError';
}
export class RateLimitedError extends RendermillError {
  override readonly name = 'RateLimitedError';
}

function errorFor(problem: Problem): RendermillError {
  if (problem.status === 401) return new AuthenticationError(problem);
  if (problem.status === 400 || problem.status === 422) return new ValidationError(problem);
  if (problem.status === 402) return new QuotaExceededError(problem);
  if (problem.status === 403 && problem.code === 'upgrade_required') return new UpgradeRequiredError(problem);
  if (problem.status === 404) return new NotFoundError(problem);
  if (problem.status === 429) return new RateLimitedError(problem);
  return new RendermillError(problem);
}

export interface RendermillOptions {
  accessToken?: string;
  apiKey?: string;
  /** '' (the page's own origin) in the dashboard. */
  baseUrl?: string;
  /** Sent with every request. */
  headers?: Record<string, string>;
}

interface RequestOptions {
  body?: unknown;
  query?: Record<string, string | number | undefined>;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

const randomKey = () => crypto.randomUUID();

export class Rendermill {
  readonly #opts: RendermillOptions;

  constructor(opts: RendermillOptions = {}) {
    this.#opts = opts;
  }

  async #request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const headers: Record<string, string> = {
      accept: 'application/json',
      ...this.#opts.headers,
      ...opts.headers,
    };
    const credential = this.#opts.accessToken ?? this.#opts.apiKey;
    if (credential) headers.authorization = `Bearer ${credential}`;
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(opts.query ?? {}))
      if (v !== undefined && v !== '') qs.set(k, String(v));
    const url = `${this.#opts.baseUrl ?? ''}${path}${qs.size ? `?${qs}` : ''}`;
    const res = await fetch(url, {
      method,
      headers,
      body: opts.body === undefined ? null : JSON.stringify(opts.body),
      credentials: 'same-origin',
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    if (res.status === 204) return undefined as T;
    const text = await res.text();
    const parsed: unknown = text ? JSON.parse(text) : {};
    if (!res.ok) {
      const p = (parsed ?? {}) as Partial<Problem>;
      throw errorFor({ ...p, status: res.status, code: p.code ?? 'http_error' } as Problem);
    }
    return parsed as T;
  }

  readonly auth = {
    sendLink: (email: string) =>
      this.#request<{ ok: true }>('POST', '/v1/auth/magic-link', { body: { email } }),
    verify: (body: { token: string; tenant_id?: string; session: 'cookie' }) =>
      this.#request<SignedIn>('POST', '/v1/auth/verify', { body }),
    /** Rotates the refresh cookie; answers a new access token. */
    refresh: () => this.#request<AccessToken>('POST', '/v1/auth/refresh', { body: {} }),
    /** Ends the cookie's session and drops the cookie. */
    signOut: () => this.#request<void>('DELETE', '/v1/auth/refresh'),
    logoutAll: () => this.#request<void>('POST', '/v1/auth/logout-all'),
  };

  readonly me = {
    get: () => this.#request<Me>('GET', '/v1/me'),
  };

  readonly renders = {
    create: (body: RenderRequest, opts: { idempotencyKey?: string } = {}) =>
      this.#request<Job>('POST', '/v1/renders', {
        body,
        headers: { 'idempotency-key': opts.idempotencyKey ?? randomKey() },
      }),
    estimate: (body: RenderRequest) => this.#request<Estimate>('POST', '/v1/renders/estimate', { body }),
  };

  readonly jobs = {
    get: (id: string) => this.#request<Job>('GET', `/v1/jobs/${encodeURIComponent(id)}`),
    /** Pages of jobs, newest first; follows `next_cursor` from `cursor` on. */
    list: (params: { status?: JobStatus; kind?: JobKind; limit?: number; cursor?: string } = {}) => {
      const request = this.#request.bind(this);
      return {
        async *[Symbol.asyncIterator](): AsyncIterator<Page<Job>> {
          let cursor = params.cursor;
          do {
            const page: Page<Job> = await request('GET', '/v1/jobs', { query: { ...params, cursor } });
            yield page;
            cursor = page.next_cursor ?? undefined;
          } while (cursor);
        },
      };
    },
    cancel: (id: string) =>
      this.#request<Job>('POST', `/v1/jobs/${encodeURIComponent(id)}/cancel`, {
        headers: { 'idempotency-key': randomKey() },
      }),
    /** A signed, short-lived URL of the output (for `<video src>` and download links). */
    outputLink: (id: string) =>
      this.#request<{ url: string; expires_at: string }>(
        'GET',
        `/v1/jobs/${encodeURIComponent(id)}/output/link`,
      ),
  };

  readonly usage = {
    get: () => this.#request<Usage>('GET', '/v1/usage'),
  };

  readonly apiKeys = {
    list: () => this.#request<Page<ApiKey>>('GET', '/v1/api-keys'),
    create: (body: { name: string; role: Role }) =>
      this.#request<ApiKey & { key: string }>('POST', '/v1/api-keys', { body }),
    rotate: (id: string) =>
      this.#request<ApiKey & { key: string }>('POST', `/v1/api-keys/${encodeURIComponent(id)}/rotate`),
    delete: (id: string) => this.#request<void>('DELETE', `/v1/api-keys/${encodeURIComponent(id)}`),
  };

  readonly members = {
    list: (cursor?: string) =>
      this.#request<Page<Member>>('GET', '/v1/members', { query: { limit: 100, cursor } }),
    changeRole: (userId: string, role: Role) =>
      this.#request<Member>('PATCH', `/v1/members/${encodeURIComponent(userId)}`, { body: { role } }),
    remove: (userId: string) => this.#request<void>('DELETE', `/v1/members/${encodeURIComponent(userId)}`),
  };

  readonly invites = {
    list: () => this.#request<Page<Invite>>('GET', '/v1/invites', { query: { limit: 100 } }),
    create: (body: { email: string; role: Role }) => this.#request<Invite>('POST', '/v1/invites', { body }),
    revoke: (id: string) => this.#request<void>('DELETE', `/v1/invites/${encodeURIComponent(id)}`),
  };

  readonly sessions = {
    list: () => this.#request<Page<SessionInfo>>('GET', '/v1/sessions', { query: { limit: 100 } }),
    revoke: (id: string) => this.#request<void>('DELETE', `/v1/sessions/${encodeURIComponent(id)}`),
  };

  readonly auditLog = {
    list: (q: { action?: string; actor_id?: string; from?: string; to?: string; cursor?: string }) =>
      this.#request<Page<AuditEntry>>('GET', '/v1/audit-log', { query: { limit: 50, ...q } }),
  };

  readonly events = {
    /** The tenant's Server-Sent Events (`GET /v1/events`) as an async iterator. */
    stream: (opts: { since?: string; types?: string[]; signal?: AbortSignal } = {}) => {
      const o = this.#opts;
      return {
        async *[Symbol.asyncIterator](): AsyncIterator<RendermillEvent> {
          const headers: Record<string, string> = { accept: 'text/event-stream', ...o.headers };
          const credential = o.accessToken ?? o.apiKey;
          if (credential) headers.authorization = `Bearer ${credential}`;
          if (opts.since) headers['last-event-id'] = opts.since;
          const qs = opts.types?.length ? `?types=${encodeURIComponent(opts.types.join(','))}` : '';
          const res = await fetch(`${o.baseUrl ?? ''}/v1/events${qs}`, {
            headers,
            ...(opts.signal ? { signal: opts.signal } : {}),
          });
          if (!res.ok || !res.body) {
            const p = (await res.json().catch(() => ({}))) as Partial<Problem>;
            throw errorFor({ ...p, status: res.status, code: p.code ?? 'http_error' } as Problem);
          }
          const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
          let buffer = '';
          for (;;) {
            const { value, done } = await reader.read();
            if (done) return;
            buffer += value;
            let end = buffer.indexOf('\n\n');
            while (end >= 0) {
              const block = buffer.slice(0, end);
              buffer = buffer.slice(end + 2);
              end = buffer.indexOf('\n\n');
              let id = '';
              let type = 'message';
              const data: string[] = [];
              for (const line of block.split('\n')) {
                if (line.startsWith('id:')) id = line.slice(3).trim();
                else if (line.startsWith('event:')) type = line.slice(6).trim();
                else if (line.startsWith('data:')) data.push(line.slice(5).trim());
              }
              if (data.length === 0) continue; // heartbeat or comment
              const parsed = JSON.parse(data.join('\n')) as Record<string, unknown>;
              yield { id, type: typeof parsed.type === 'string' ? parsed.type : type, data: parsed };
            }
          }
        },
      };
    },
  };
}
