import express, { type Express } from 'express';
import helmet from 'helmet';
import type { Knex } from 'knex';
import type { TenantGenerations } from '../shared/auth/tenant-generation.ts';
import type { Config } from '../shared/config/config.ts';
import type { EventWriter } from '../shared/events/event-stream.ts';
import { createYoutubeConnectionStore } from '../shared/integrations/youtube-connection-store.ts';
import { createJobRepository } from '../shared/jobs/job-repository.ts';
import type { Logger } from '../shared/logging/logger.ts';
import type { Mailer } from '../shared/mail/mailer.ts';
import type { PlanCatalogue } from '../shared/metering/plans.ts';
import type { HostMetrics } from '../shared/metrics/host-metrics.ts';
import type { Metrics } from '../shared/metrics/metrics.ts';
import type { Producer } from '../shared/queue/producer.ts';
import type { RedisClient } from '../shared/redis/redis.ts';
import type { Storage } from '../shared/storage/storage.ts';
import { accountRoutes } from './features/account/account-routes.ts';
import type { AccountService } from './features/account/account-service.ts';
import { apiKeyRoutes } from './features/api-keys/api-key-routes.ts';
import type { ApiKeyStore } from './features/api-keys/api-key-store.ts';
import { auditLogRoutes } from './features/audit-log/audit-log-routes.ts';
import { createAuditLogStore } from './features/audit-log/audit-log-store.ts';
import type { AuthCaches } from './features/auth/auth-cache.ts';
import { authRoutes } from './features/auth/auth-routes.ts';
import type { AuthService } from './features/auth/auth-service.ts';
import type { AuthStore } from './features/auth/auth-store.ts';
import { authenticate } from './features/auth/authenticate.ts';
import type { JwtCodec } from './features/auth/jwt.ts';
import { createRefreshCookie } from './features/auth/refresh-cookie.ts';
import { billingRoutes, checkoutReturnRoutes } from './features/billing/billing-routes.ts';
import type { BillingService } from './features/billing/billing-service.ts';
import type { StripeEventHandler } from './features/billing/stripe-events.ts';
import { stripeWebhookRoutes } from './features/billing/stripe-webhook-routes.ts';
import { DOCS_ASSETS_PATH, docsAssets, docsRoutes } from './features/docs/docs-routes.ts';
import type { EventHub } from './features/events/event-hub.ts';
import { eventRoutes } from './features/events/event-routes.ts';
import { youtubeRoutes } from './features/integrations/youtube-routes.ts';
import { createYoutubeService } from './features/integrations/youtube-service.ts';
import { estimateRoutes } from './features/jobs/estimate-routes.ts';
import { fileRoutes } from './features/jobs/file-routes.ts';
import { jobRoutes } from './features/jobs/job-routes.ts';
import type { JobService } from './features/jobs/job-service.ts';
import { createWebhookSecretStore, webhookSecretRoutes } from './features/jobs/webhook-secret-routes.ts';
import { meRoutes } from './features/me/me-routes.ts';
import { memberRoutes } from './features/members/member-routes.ts';
import { createMemberService } from './features/members/member-service.ts';
import { createMemberStore } from './features/members/member-store.ts';
import { notificationRoutes } from './features/notifications/notification-routes.ts';
import { createNotificationStore } from './features/notifications/notification-store.ts';
import { backupRoutes } from './features/ops/backup-routes.ts';
import { opsRoutes } from './features/ops/ops-routes.ts';
import { queueDashboard } from './features/ops/queue-dashboard.ts';
import { publishRoutes } from './features/publish/publish-routes.ts';
import { createPublishService } from './features/publish/publish-service.ts';
import { sessionRoutes } from './features/sessions/session-routes.ts';
import { createSessionStore } from './features/sessions/session-store.ts';
import { supportRoutes } from './features/support/support-routes.ts';
import { planRoutes } from './features/usage/plan-routes.ts';
import { usageRoutes } from './features/usage/usage-routes.ts';
import { webhookRoutes } from './features/webhooks/webhook-routes.ts';
import { createWebhookStore } from './features/webhooks/webhook-store.ts';
import { errorHandler, notFoundHandler } from './http/error-handler.ts';
import { httpMetrics } from './http/http-metrics.ts';
import { buildOpenApiDocument } from './http/openapi.ts';
import type { Operation } from './http/operation.ts';
import type { RateLimits } from './http/rate-limit.ts';
import { requestId } from './http/request-id.ts';
import { requestLog } from './http/request-log.ts';
import { mountOperations } from './http/route-registry.ts';
import { webApp } from './http/web-app.ts';

/** Everything the HTTP layer needs, built by the composition root (`api/main.ts`). */
export interface ApiDeps {
  config: Config;
  db: Knex;
  redis: RedisClient;
  logger: Logger;
  mailer: Mailer;
  metrics: Metrics;
  /** What `GET /metrics` serves: this process's metrics, or with API_PROCESSES > 1 the host's. */
  hostMetrics: HostMetrics;
  jwt: JwtCodec;
  authStore: AuthStore;
  apiKeyStore: ApiKeyStore;
  /** Bumped after a change to a tenant's access or plan; read by `authCache` on every request. */
  generations: TenantGenerations;
  /** This replica's cache of keys, sessions and tenants' plans, valid per tenant generation. */
  authCache: AuthCaches;
  auth: AuthService;
  limits: RateLimits;
  /** BullMQ producers (jobId = our job id). */
  producer: Producer;
  /** Outputs and exports under tenant-prefixed keys. */
  storage: Storage;
  /** Job submission, status, cancel and downloads (metering's quota and plan gate plugged in by api/main.ts). */
  jobs: JobService;
  /** The plan catalogue (PLANS_FILE or the built-in defaults, README: Plans). */
  plans: PlanCatalogue;
  /** Checkout, portal, subscription, invoices (503 for the Stripe calls in local-ledger mode). */
  billing: BillingService;
  /** Applies verified Stripe webhook events, each once. */
  stripeEvents: StripeEventHandler;
  /** Account export and deletion requests. */
  account: AccountService;
  /** Appends to tenants' event streams. */
  events: EventWriter;
  /** This replica's readers of tenants' event streams (GET /v1/events). */
  eventHub: EventHub;
}

/**
 * Every operation of the public API, declared once (`api/http/operation.ts`): the routes, their
 * validation and `GET /openapi.json` all come from this list.
 */
export function apiOperations(deps: ApiDeps): Operation[] {
  const memberStore = createMemberStore();
  const connections = createYoutubeConnectionStore();
  const operations: Operation[] = [
    ...opsRoutes({ db: deps.db, redis: deps.redis, metrics: deps.hostMetrics }),
    ...stripeWebhookRoutes({ secret: deps.config.STRIPE_WEBHOOK_SECRET, handle: deps.stripeEvents }),
    ...authRoutes({
      auth: deps.auth,
      limits: deps.limits,
      cookie: createRefreshCookie({
        publicUrl: deps.config.PUBLIC_URL,
        ttlSeconds: deps.config.REFRESH_TOKEN_TTL_SECONDS,
      }),
    }),
    // Signed download links: the signature is the credential, no bearer token.
    ...fileRoutes({ jobs: deps.jobs }),
    ...planRoutes({ plans: deps.plans }),
    ...checkoutReturnRoutes(),
    ...meRoutes({ db: deps.db }),
    ...apiKeyRoutes({ db: deps.db, store: deps.apiKeyStore, generations: deps.generations }),
    ...jobRoutes({ jobs: deps.jobs }),
    ...usageRoutes({ db: deps.db, plans: deps.plans }),
    ...billingRoutes({ billing: deps.billing }),
    ...memberRoutes({
      db: deps.db,
      store: memberStore,
      members: createMemberService({
        db: deps.db,
        store: memberStore,
        auth: deps.auth,
        generations: deps.generations,
      }),
    }),
    ...sessionRoutes({ db: deps.db, store: createSessionStore(), generations: deps.generations }),
    ...auditLogRoutes({ db: deps.db, store: createAuditLogStore() }),
    ...accountRoutes({ account: deps.account }),
    ...webhookSecretRoutes({ db: deps.db, store: createWebhookSecretStore() }),
    ...estimateRoutes({ db: deps.db, jobs: deps.jobs }),
    ...eventRoutes({
      hub: deps.eventHub,
      redis: deps.redis,
      redisPrefix: deps.config.REDIS_PREFIX,
      heartbeatMs: deps.config.EVENTS_HEARTBEAT_SECONDS * 1000,
      maxBufferBytes: deps.config.EVENTS_MAX_BUFFER_BYTES,
    }),
    ...webhookRoutes({
      db: deps.db,
      store: createWebhookStore(),
      producer: deps.producer,
      events: deps.events,
      allowPrivateHosts: deps.config.FETCH_ALLOW_PRIVATE,
      generations: deps.generations,
    }),
    ...youtubeRoutes({
      youtube: createYoutubeService({
        db: deps.db,
        store: connections,
        plans: deps.plans,
        config: deps.config,
        logger: deps.logger,
      }),
    }),
    ...publishRoutes({
      publish: createPublishService({
        db: deps.db,
        jobStore: createJobRepository(),
        connections,
        jobs: deps.jobs,
        producer: deps.producer,
        plans: deps.plans,
        logger: deps.logger,
      }),
    }),
    ...notificationRoutes({ db: deps.db, store: createNotificationStore() }),
    ...supportRoutes({ db: deps.db, producer: deps.producer, logger: deps.logger }),
  ];
  let document: Record<string, unknown> | undefined;
  const docs = docsRoutes({
    document: () => {
      document ??= buildOpenApiDocument([...operations, ...docs], deps.config.PUBLIC_URL);
      return document;
    },
  });
  return [...operations, ...docs];
}

export function createApp(deps: ApiDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', deps.config.TRUST_PROXY === 'true' ? true : deps.config.TRUST_PROXY);

  app.use(requestId());
  app.use(requestLog(deps.logger));
  app.use(httpMetrics(deps.metrics));
  // Upgrading requests to https only makes sense when we are served over https: on a plain-http
  // PUBLIC_URL it would break the sign-in page's form post.
  const https = deps.config.PUBLIC_URL.startsWith('https:');
  // Strict: scripts, styles, fonts, media and API calls from our own origin only — no inline
  // script, no external host (the dashboard's build and /docs are checked to need neither).
  app.use(
    helmet({
      contentSecurityPolicy: {
        directives: {
          upgradeInsecureRequests: https ? [] : null,
          styleSrc: ["'self'"],
          fontSrc: ["'self'"],
          imgSrc: ["'self'", 'data:'],
          mediaSrc: ["'self'"],
          connectSrc: ["'self'"],
          formAction: ["'self'"],
        },
      },
    }),
  );

  app.use(queueDashboard({ producer: deps.producer, opsToken: deps.config.OPS_TOKEN }));
  // Operator routes under /v1 take the ops credentials, not a tenant's: mounted before the bearer check.
  app.use(backupRoutes({ db: deps.db, opsToken: deps.config.OPS_TOKEN }));
  app.use(DOCS_ASSETS_PATH, ...docsAssets());

  const bearer = authenticate({
    db: deps.db,
    jwt: deps.jwt,
    authStore: deps.authStore,
    apiKeyStore: deps.apiKeyStore,
    authCache: deps.authCache,
    logger: deps.logger,
  });
  app.use(mountOperations(apiOperations(deps), { authenticate: bearer, rateLimit: deps.limits.api }));
  // Authentication comes before routing: an unknown /v1 path is a 401 without credentials, a 404 with them.
  app.use('/v1', bearer, deps.limits.api, express.json({ limit: '1mb', strict: true }));
  // Last before the 404: the dashboard's files and its client routes never shadow an API route.
  app.use(webApp({ dir: deps.config.WEB_DIST_DIR, logger: deps.logger }));

  app.use(notFoundHandler());
  app.use(errorHandler(deps.logger, deps.metrics));
  return app;
}
