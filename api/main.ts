import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { createTenantGenerations } from '../shared/auth/tenant-generation.ts';
import { createStripeClient, type Stripe } from '../shared/billing/stripe-client.ts';
import type { Config } from '../shared/config/config.ts';
import { createDb } from '../shared/db/db.ts';
import { createEventWriter } from '../shared/events/event-stream.ts';
import { createJobRepository } from '../shared/jobs/job-repository.ts';
import { createLogger, type Logger } from '../shared/logging/logger.ts';
import { createMailer, type Mailer } from '../shared/mail/mailer.ts';
import { createPlanGate } from '../shared/metering/plan-gate.ts';
import { loadPlanCatalogue } from '../shared/metering/plans.ts';
import { createQuotaService } from '../shared/metering/quota-service.ts';
import { createHostMetrics } from '../shared/metrics/host-metrics.ts';
import { createMetrics } from '../shared/metrics/metrics.ts';
import { flushSentry, initSentry } from '../shared/observability/sentry.ts';
import type { ProcessCount } from '../shared/process/cluster-primary.ts';
import { createProducer } from '../shared/queue/producer.ts';
import { createRedis, createRequestRedis } from '../shared/redis/redis.ts';
import { createStorage } from '../shared/storage/create-storage.ts';
import type { Storage } from '../shared/storage/storage.ts';
import { type ApiDeps, createApp } from './app.ts';
import { createAccountService } from './features/account/account-service.ts';
import { createAccountStore } from './features/account/account-store.ts';
import { createApiKeyStore } from './features/api-keys/api-key-store.ts';
import { createAuthCaches } from './features/auth/auth-cache.ts';
import { createAuthService } from './features/auth/auth-service.ts';
import { createAuthStore } from './features/auth/auth-store.ts';
import { createJwtCodec } from './features/auth/jwt.ts';
import { createBillingService } from './features/billing/billing-service.ts';
import { createBillingStore } from './features/billing/billing-store.ts';
import { createStripeEventHandler } from './features/billing/stripe-events.ts';
import { createEventHub } from './features/events/event-hub.ts';
import { createIdempotencyStore } from './features/jobs/idempotency-store.ts';
import { createJobService } from './features/jobs/job-service.ts';
import { createTenantStateReader } from './features/jobs/tenant-state.ts';
import { createRateLimits } from './http/rate-limit.ts';

export interface ApiProcess {
  url: string;
  port: number;
  deps: ApiDeps;
  stop(): Promise<void>;
}

/**
 * What a test may set instead of the composition root; everything else is built as in production.
 * The caller owns what it gives: `stop()` closes only what `start()` built.
 */
export interface ApiOverrides {
  /** Default: a logger at LOG_LEVEL named `api` */
  logger?: Logger;
  /** Default: SMTP_URL, or the DEV_OUTBOX_DIR outbox */
  mailer?: Mailer;
  /** Default: S3 when S3_BUCKET is set, else STORAGE_DIR */
  storage?: Storage;
  /** Default: from STRIPE_SECRET_KEY / STRIPE_API_URL; null is local-ledger mode */
  stripe?: Stripe | null;
}

/**
 * `npm run start:api` runs API_PROCESSES of these on one port (node:cluster, via the runner),
 * each a whole API as below; `npm start` (API and workers in one process) runs one.
 */
export const processes: ProcessCount = {
  name: 'api',
  setting: 'API_PROCESSES',
  count: (config) => config.API_PROCESSES,
};

/** Composition root of the API: builds every dependency once and passes it down. */
export async function start(config: Config, overrides: ApiOverrides = {}): Promise<ApiProcess> {
  initSentry(config.SENTRY_DSN, 'api');
  const logger = overrides.logger ?? createLogger(config.LOG_LEVEL, 'api');
  const db = createDb(config.DATABASE_URL);
  const redis = createRequestRedis(config.redisTarget, 'rendermill-api');
  // Without a listener ioredis prints every failed reconnect to stderr as an unhandled error;
  // /readyz reports the outage, the log gets one structured line per attempt.
  redis.on('error', (err: Error) => logger.warn({ err: err.message }, 'redis connection error'));
  const mailer =
    overrides.mailer ??
    createMailer({
      smtpUrl: config.SMTP_URL,
      from: config.MAIL_FROM,
      outboxDir: config.DEV_OUTBOX_DIR,
      logger,
    });
  const metrics = createMetrics('api');
  // In one of several API processes, /metrics answers for all of them (summed by the primary).
  const hostMetrics = createHostMetrics(metrics.registry);
  const jwt = createJwtCodec(config.JWT_SECRET, config.ACCESS_TOKEN_TTL_SECONDS);
  const authStore = createAuthStore();
  const apiKeyStore = createApiKeyStore();
  // Keys, sessions and tenants' plans are cached per replica and revoked on every replica at
  // once through the tenant generation (shared/auth/tenant-generation.ts).
  const generations = createTenantGenerations(redis, config.REDIS_PREFIX, logger);
  const cacheOptions = { generations, logger, ttlMs: config.AUTH_CACHE_TTL_MS };
  const authCache = createAuthCaches(cacheOptions);
  const events = createEventWriter({
    redis,
    redisPrefix: config.REDIS_PREFIX,
    logger,
    retentionMs: config.EVENTS_RETENTION_HOURS * 3_600_000,
  });
  const auth = createAuthService({
    db,
    store: authStore,
    jwt,
    mailer,
    logger,
    events,
    publicUrl: config.PUBLIC_URL,
    refreshTtlSeconds: config.REFRESH_TOKEN_TTL_SECONDS,
    generations,
  });
  const limits = createRateLimits(redis, {
    prefix: config.REDIS_PREFIX,
    perMinute: config.RATE_LIMIT_PER_MINUTE,
    burstPerSecond: config.RATE_LIMIT_BURST_PER_SECOND,
    magicPerEmail: config.MAGIC_LINK_PER_EMAIL,
    magicPerIp: config.MAGIC_LINK_PER_IP,
  });
  // Enqueues on the request connection: a dead Redis fails the add in ~2 s and the reconciler takes over.
  const producer = createProducer(redis, config.REDIS_PREFIX, { fairShare: config.FAIR_SHARE });
  const store = overrides.storage
    ? { storage: overrides.storage, backend: 'given', close: () => undefined }
    : createStorage(config);
  const { storage } = store;
  // Blocking stream reads get their own connections (one per tenant with live clients here).
  const eventHub = createEventHub({
    connect: (name) => createRedis(config.redisTarget, { name }),
    redisPrefix: config.REDIS_PREFIX,
    logger,
  });
  const plans = loadPlanCatalogue(config.PLANS_FILE);
  const stripe =
    'stripe' in overrides
      ? (overrides.stripe ?? null)
      : createStripeClient({ secretKey: config.STRIPE_SECRET_KEY, apiUrl: config.STRIPE_API_URL });
  if (stripe) {
    logger.info({ stripe_api: config.STRIPE_API_URL ?? 'https://api.stripe.com' }, 'billing: Stripe mode');
  } else {
    logger.info(
      'billing: local-ledger mode (STRIPE_SECRET_KEY unset): usage is metered and plan limits enforced; checkout, portal and invoices answer 503',
    );
  }
  const quota = createQuotaService({ plans });
  const billingStore = createBillingStore();
  const billing = createBillingService({
    db,
    store: billingStore,
    plans,
    stripe,
    publicUrl: config.PUBLIC_URL,
  });
  const stripeEvents = createStripeEventHandler({
    db,
    store: billingStore,
    plans,
    mailer,
    logger,
    publicUrl: config.PUBLIC_URL,
    events,
    generations,
  });
  const jobRepository = createJobRepository();
  const jobs = createJobService({
    db,
    jobs: jobRepository,
    idempotency: createIdempotencyStore(),
    producer,
    storage,
    logger,
    metrics,
    events,
    publicUrl: config.PUBLIC_URL,
    signingSecret: config.JWT_SECRET,
    allowPrivateHosts: config.FETCH_ALLOW_PRIVATE,
    // Metering: the quota reserves in the submit transaction (402) and releases a canceled
    // queued job's reservation; the gate answers 403 upgrade_required before any write.
    quota,
    gate: createPlanGate({ plans }),
    plans,
    tenantState: createTenantStateReader({ db, cache: cacheOptions }),
  });
  const account = createAccountService({
    db,
    store: createAccountStore(),
    jobStore: jobRepository,
    jobs,
    producer,
    mailer,
    logger,
    events,
    graceSeconds: config.ACCOUNT_DELETION_GRACE_SECONDS,
  });
  const deps: ApiDeps = {
    config,
    db,
    redis,
    logger,
    mailer,
    metrics,
    hostMetrics,
    jwt,
    authStore,
    apiKeyStore,
    generations,
    authCache,
    auth,
    limits,
    producer,
    storage,
    jobs,
    plans,
    billing,
    stripeEvents,
    account,
    events,
    eventHub,
  };

  const server = createApp(deps).listen(config.PORT);
  await once(server, 'listening');
  // Slow clients must not hold sockets forever.
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;
  const port = (server.address() as AddressInfo).port;
  logger.info({ port, public_url: config.PUBLIC_URL, storage: store.backend }, 'api listening');

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    deps,
    async stop() {
      // Stop accepting, let in-flight requests finish, then close connections. Event streams
      // never finish by themselves: they are ended first (clients reconnect to another replica).
      const closed = new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      await eventHub.stop();
      await closed;
      await auth.drain();
      await jobs.drain();
      await account.drain();
      if (!overrides.mailer) mailer.close();
      await producer.close();
      redis.disconnect();
      store.close();
      await db.destroy();
      await flushSentry();
      logger.info('api stopped');
    },
  };
}
