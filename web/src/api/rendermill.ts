/**
 * The dashboard's ONE way to the API: `@rendermill/sdk`. This module binds the SDK to the
 * browser session (the current access token, the page's own origin) and adds the few calls the
 * SDK's resources do not cover yet (browser sign-in, members, sessions, audit log, the output
 * link, billing, the usage ledger, webhook endpoint and deliveries), made through the SDK's own
 * HTTP client, so retries and typed errors are the SDK's too.
 * Nothing else in web/ talks to the API.
 */
import {
  type ApiKeyWithSecret,
  type Job,
  type JobKind,
  type JobStatus,
  type Page,
  type PublishRequest,
  type RenderRequest,
  type ResponseBody,
  Rendermill as Sdk,
  type ApiKey as SdkApiKey,
  type Usage,
  type UsageEvent,
  type WebhookDelivery,
  type WebhookEndpoint,
  type WebhookSecret,
} from '@rendermill/sdk';

export type {
  Account,
  CreateSupportTicketRequest,
  Job,
  JobKind,
  JobStatus,
  JobStep,
  Notification,
  NotificationPage,
  Page,
  PublishRequest,
  RenderRequest,
  Scene,
  SupportTicket,
  Usage,
  WebhookEndpoint,
  WebhookSecret,
  YoutubeConnection,
} from '@rendermill/sdk';
export {
  AuthenticationError,
  ConflictError,
  NotFoundError,
  PermissionError,
  QuotaExceededError,
  RateLimitedError,
  RendermillError,
  UpgradeRequiredError,
  ValidationError,
} from '@rendermill/sdk';

export type Role = 'owner' | 'admin' | 'member' | 'viewer';
export type ApiKey = SdkApiKey;
export type Estimate = Record<string, unknown>;

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

/** One row of the usage ledger (`GET /v1/usage/events`). */
export type LedgerRow = UsageEvent;

// Response shapes as the OpenAPI document declares them (generated in sdk/src/generated).
/** `GET /v1/billing/subscription`: what Stripe's webhooks applied (also in local-ledger mode). */
export type Subscription = ResponseBody<'getSubscription', 200>;
export type Invoice = ResponseBody<'listInvoices', 200>['data'][number];
export type Plan = ResponseBody<'listPlans', 200>['data'][number];
export type Delivery = WebhookDelivery;
export type DeliveryAttempt = Delivery['attempts'][number];
export type DeliveryStatus = Delivery['status'];

/** One event of `GET /v1/events`: `id` resumes the stream, `data` is the event as sent. */
export interface RendermillEvent {
  id: string;
  type: string;
  data: Record<string, unknown>;
}

export interface RendermillOptions {
  accessToken?: string;
  /** Sent with the dashboard's own calls (the cookie calls need the CSRF header). */
  headers?: Record<string, string>;
}

const enc = encodeURIComponent;

export class Rendermill {
  readonly #sdk: Sdk;
  readonly #headers: Record<string, string>;

  constructor(opts: RendermillOptions = {}) {
    this.#sdk = new Sdk({
      baseUrl: window.location.origin,
      ...(opts.accessToken ? { accessToken: opts.accessToken } : {}),
      maxRetries: 2,
    });
    this.#headers = opts.headers ?? {};
  }

  #json<T>(
    method: string,
    path: string,
    ro: { body?: unknown; query?: Record<string, string | number | undefined> } = {},
  ) {
    return this.#sdk.http.json<T>(method, path, { ...ro, headers: this.#headers });
  }

  readonly auth = {
    sendLink: (email: string) => this.#json<{ ok: true }>('POST', '/v1/auth/magic-link', { body: { email } }),
    verify: (body: { token: string; tenant_id?: string; session: 'cookie' }) =>
      this.#json<SignedIn>('POST', '/v1/auth/verify', { body }),
    /** Rotates the refresh cookie; answers a new access token. */
    refresh: () => this.#json<AccessToken>('POST', '/v1/auth/refresh', { body: {} }),
    /** Ends the cookie's session and drops the cookie. */
    signOut: () => this.#json<void>('DELETE', '/v1/auth/refresh'),
    logoutAll: () => this.#json<void>('POST', '/v1/auth/logout-all'),
  };

  readonly me = {
    get: () => this.#json<Me>('GET', '/v1/me'),
  };

  readonly renders = {
    /** Submits with the given Idempotency-Key and answers the job as accepted. */
    create: async (body: RenderRequest, opts: { idempotencyKey?: string } = {}): Promise<Job> =>
      (await this.#sdk.renders.create(body, opts)).job,
    estimate: (body: RenderRequest) => this.#sdk.renders.estimate<Estimate>(body),
  };

  readonly jobs = {
    get: (id: string) => this.#sdk.jobs.get(id),
    /** One page of jobs, newest first. */
    page: (
      params: { status?: JobStatus; kind?: JobKind; limit?: number; cursor?: string } = {},
    ): Promise<Page<Job>> => this.#sdk.jobs.list(params).page(),
    cancel: (id: string) => this.#sdk.jobs.cancel(id),
    /** A signed, short-lived URL of the output (for `<video src>` and download links). */
    outputLink: (id: string) =>
      this.#json<{ url: string; expires_at: string }>('GET', `/v1/jobs/${enc(id)}/output/link`),
    /** Answers the publish job as accepted (or the open one for this video). */
    publish: async (id: string, body: PublishRequest): Promise<Job> =>
      (await this.#sdk.jobs.publish(id, body)).job,
  };

  readonly youtube = {
    get: () => this.#sdk.youtube.get(),
    connect: () => this.#sdk.youtube.connect(),
    disconnect: () => this.#sdk.youtube.disconnect(),
  };

  readonly usage = {
    get: (): Promise<Usage> => this.#sdk.usage.get(),
  };

  readonly apiKeys = {
    list: () => this.#sdk.apiKeys.list(),
    create: (body: { name: string; role: Role }): Promise<ApiKeyWithSecret> =>
      this.#sdk.apiKeys.create({ name: body.name, role: body.role === 'owner' ? 'admin' : body.role }),
    rotate: (id: string) => this.#sdk.apiKeys.rotate(id),
    delete: (id: string) => this.#sdk.apiKeys.delete(id),
  };

  readonly members = {
    list: (cursor?: string) =>
      this.#json<Page<Member>>('GET', '/v1/members', { query: { limit: 100, cursor } }),
    changeRole: (userId: string, role: Role) =>
      this.#json<Member>('PATCH', `/v1/members/${enc(userId)}`, { body: { role } }),
    remove: (userId: string) => this.#json<void>('DELETE', `/v1/members/${enc(userId)}`),
  };

  readonly invites = {
    list: () => this.#json<Page<Invite>>('GET', '/v1/invites', { query: { limit: 100 } }),
    create: (body: { email: string; role: Role }) => this.#json<Invite>('POST', '/v1/invites', { body }),
    revoke: (id: string) => this.#json<void>('DELETE', `/v1/invites/${enc(id)}`),
  };

  readonly sessions = {
    list: () => this.#json<Page<SessionInfo>>('GET', '/v1/sessions', { query: { limit: 100 } }),
    revoke: (id: string) => this.#json<void>('DELETE', `/v1/sessions/${enc(id)}`),
  };

  readonly auditLog = {
    list: (q: { action?: string; actor_id?: string; from?: string; to?: string; cursor?: string }) =>
      this.#json<Page<AuditEntry>>('GET', '/v1/audit-log', { query: { limit: 50, ...q } }),
  };

  readonly billing = {
    subscription: () => this.#json<Subscription>('GET', '/v1/billing/subscription'),
    invoices: (cursor?: string) =>
      this.#json<Page<Invoice>>('GET', '/v1/billing/invoices', { query: { limit: 20, cursor } }),
    /** A Stripe Checkout URL for `plan`. */
    checkout: (plan: string) =>
      this.#json<{ url: string }>('POST', '/v1/billing/checkout', { body: { plan } }),
    /** A Stripe customer-portal URL. */
    portal: () => this.#json<{ url: string }>('POST', '/v1/billing/portal'),
  };

  readonly plans = {
    list: () => this.#json<Page<Plan>>('GET', '/v1/plans'),
  };

  readonly ledger = {
    /** One page of the usage ledger, newest first. */
    page: (q: { from?: string; to?: string; cursor?: string; limit?: number }) =>
      this.#json<Page<LedgerRow>>('GET', '/v1/usage/events', { query: { limit: 100, ...q } }),
    /** The ledger as CSV (paid plans; 403 upgrade_required otherwise). */
    csv: async (q: { from?: string; to?: string }): Promise<Blob> => {
      const res = await this.#sdk.http.send('GET', '/v1/usage/export.csv', {
        query: q,
        headers: { ...this.#headers, accept: 'text/csv' },
      });
      return res.blob();
    },
  };

  readonly webhooks = {
    endpoint: () => this.#json<WebhookEndpoint>('GET', '/v1/webhook-endpoint'),
    setEndpoint: (url: string) =>
      this.#json<WebhookEndpoint>('PUT', '/v1/webhook-endpoint', { body: { url } }),
    removeEndpoint: () => this.#json<void>('DELETE', '/v1/webhook-endpoint'),
    secret: () => this.#json<WebhookSecret>('GET', '/v1/webhook-secret'),
    rotateSecret: (overlapSeconds: number) =>
      this.#json<WebhookSecret>('POST', '/v1/webhook-secret/rotate', {
        body: { overlap_seconds: overlapSeconds },
      }),
    sendTest: () => this.#json<Delivery>('POST', '/v1/webhooks/test'),
    deliveries: (q: { status?: DeliveryStatus; event?: string; cursor?: string }) =>
      this.#json<Page<Delivery>>('GET', '/v1/webhook-deliveries', { query: { limit: 20, ...q } }),
    replay: (id: string) => this.#json<Delivery>('POST', `/v1/webhook-deliveries/${enc(id)}/replay`),
  };

  readonly notifications = {
    list: (q: { unread?: boolean; cursor?: string; limit?: number } = {}) =>
      this.#sdk.notifications.list({
        limit: q.limit ?? 20,
        ...(q.unread ? { unread: 'true' as const } : {}),
        ...(q.cursor ? { cursor: q.cursor } : {}),
      }),
    read: (id: string) => this.#sdk.notifications.read(id),
    readAll: () => this.#sdk.notifications.readAll(),
  };

  readonly support = {
    create: (body: { subject: string; message: string; job_id?: string }) => this.#sdk.support.create(body),
    list: (cursor?: string) => this.#sdk.support.list({ limit: 50, ...(cursor ? { cursor } : {}) }),
  };

  readonly account = {
    get: () => this.#sdk.account.get(),
    rename: (name: string) => this.#sdk.account.rename(name),
    export: () => this.#sdk.account.export(),
    scheduleDeletion: () => this.#sdk.account.scheduleDeletion(),
    cancelDeletion: () => this.#sdk.account.cancelDeletion(),
  };

  readonly events = {
    /** The tenant's events (`GET /v1/events`) after `since`; ends when the connection does. */
    stream: (opts: { since?: string; signal?: AbortSignal } = {}) => this.#stream(opts),
  };

  async *#stream(opts: { since?: string; signal?: AbortSignal }): AsyncGenerator<RendermillEvent> {
    for await (const e of this.#sdk.events.stream({ ...opts, reconnect: false })) {
      yield { id: e.streamId, type: e.type, data: e as unknown as Record<string, unknown> };
    }
  }
}
