import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { UnrecoverableError, Worker } from 'bullmq';
import { withTimeout } from '../shared/async/with-timeout.ts';
import { createTenantGenerations } from '../shared/auth/tenant-generation.ts';
import { createStripeClient } from '../shared/billing/stripe-client.ts';
import type { Config } from '../shared/config/config.ts';
import { createDb } from '../shared/db/db.ts';
import { createEventWriter } from '../shared/events/event-stream.ts';
import { createLogger, type Logger } from '../shared/logging/logger.ts';
import { createMailer } from '../shared/mail/mailer.ts';
import { loadPlanCatalogue } from '../shared/metering/plans.ts';
import { release, settle } from '../shared/metering/quota-service.ts';
import { createMetrics } from '../shared/metrics/metrics.ts';
import { flushSentry, initSentry, reportError } from '../shared/observability/sentry.ts';
import { StartupError } from '../shared/process/startup-error.ts';
import { startFairDispatcher } from '../shared/queue/fair-dispatcher.ts';
import { createProducer } from '../shared/queue/producer.ts';
import { ALL_QUEUES, bullPrefix, isQueueName, QUEUES, type QueueName } from '../shared/queue/queues.ts';
import { createRedis } from '../shared/redis/redis.ts';
import { createStorage } from '../shared/storage/create-storage.ts';
import type { WorkerServices } from './jobs/services.ts';
import { createEspeakProvider } from './media/tts/espeak-provider.ts';
import { createHttpTtsProvider } from './media/tts/http-provider.ts';
import { createResilientTtsProvider } from './media/tts/resilient-provider.ts';
import type { TtsProvider } from './media/tts/tts-provider.ts';
import { startOpsGauges } from './ops-gauges.ts';
import { assertToolsFor, toolsFor } from './preflight/preflight.ts';
import { createCatalog, schedules } from './registry.ts';
import { createAccountBilling } from './tasks/usage/close-billing.ts';
import { workerOptions } from './worker-settings.ts';

export interface WorkerProcess {
  metricsUrl: string;
  services: WorkerServices;
  stop(): Promise<void>;
}

/**
 * What a test or a chaos scenario may set instead of the composition root. Everything else is
 * built exactly as in production, so a scenario runs the real wiring (runner, catalog, lock and
 * stall settings) with only the piece it is about swapped.
 */
export interface WorkerOverrides {
  /** Queues to consume (default: WORKER_QUEUES, or every queue when empty) */
  queues?: QueueName[];
  /** Jobs per queue at once (default: WORKER_CONCURRENCY) */
  concurrency?: number;
  /** Default: a logger at LOG_LEVEL named `worker` */
  logger?: Logger;
  /**
   * Services used as given instead of built (e.g. a `billing` whose Stripe never answers). The
   * caller owns them: `stop()` closes only what `start()` built.
   */
  services?: Partial<
    Pick<WorkerServices, 'billing' | 'mailer' | 'storage' | 'stripe' | 'tts' | 'quota' | 'generations'>
  >;
}

/** Composition root of a worker process: consumes WORKER_QUEUES, serves /metrics on METRICS_PORT. */
export async function start(config: Config, overrides: WorkerOverrides = {}): Promise<WorkerProcess> {
  initSentry(config.SENTRY_DSN, 'worker');
  const catalog = createCatalog();
  const given = overrides.services ?? {};
  const concurrency = overrides.concurrency ?? config.WORKER_CONCURRENCY;
  const unknown = overrides.queues ? [] : config.WORKER_QUEUES.filter((q) => !isQueueName(q));
  if (unknown.length) throw new StartupError(`WORKER_QUEUES names unknown queues: ${unknown.join(', ')}`);
  const queues: QueueName[] =
    overrides.queues ?? (config.WORKER_QUEUES.length ? config.WORKER_QUEUES.filter(isQueueName) : ALL_QUEUES);
  // Before any connection or job: a worker without ffmpeg would take renders and fail every one.
  await assertToolsFor(config, catalog.values(), queues);

  const logger = overrides.logger ?? createLogger(config.LOG_LEVEL, 'worker');
  const db = createDb(config.DATABASE_URL, { poolMax: Math.max(4, concurrency * 2 + 2) });
  const connection = createRedis(config.redisTarget, { name: 'rendermill-worker' });
  const producer = createProducer(connection, config.REDIS_PREFIX, { fairShare: config.FAIR_SHARE });
  const metrics = createMetrics('worker');
  // Only tasks that speak declare espeak-ng: a worker without them builds no voice (and runs no espeak-ng).
  const ttsGiven = 'tts' in given;
  const tts = ttsGiven
    ? given.tts
    : toolsFor(catalog.values(), queues).includes('espeak-ng')
      ? await createTts(config, metrics, logger)
      : undefined;
  const plans = loadPlanCatalogue(config.PLANS_FILE);
  // The reporter backs off across runs itself: no SDK-level retries.
  const stripe =
    'stripe' in given
      ? (given.stripe ?? null)
      : createStripeClient({
          secretKey: config.STRIPE_SECRET_KEY,
          apiUrl: config.STRIPE_API_URL,
          maxNetworkRetries: 0,
        });
  // A given store is the caller's to close.
  const store = given.storage
    ? { storage: given.storage, backend: 'given', close: () => undefined }
    : createStorage(config);
  const mailer =
    given.mailer ??
    createMailer({
      smtpUrl: config.SMTP_URL,
      from: config.MAIL_FROM,
      outboxDir: config.DEV_OUTBOX_DIR,
      logger,
    });
  const services: WorkerServices = {
    config,
    db,
    logger,
    mailer,
    storage: store.storage,
    tts,
    producer,
    metrics,
    events: createEventWriter({
      redis: connection,
      redisPrefix: config.REDIS_PREFIX,
      logger,
      retentionMs: config.EVENTS_RETENTION_HOURS * 3_600_000,
    }),
    plans,
    stripe,
    quota: given.quota ?? { settle, release },
    billing: given.billing ?? createAccountBilling({ db, stripe, plans, logger }),
    generations: given.generations ?? createTenantGenerations(connection, config.REDIS_PREFIX, logger),
  };
  const options = workerOptions({
    concurrency,
    backoffScale: config.JOB_BACKOFF_SCALE,
    catalog,
  });
  const workers = queues.map((queue) => {
    const worker = new Worker(
      queue,
      async (job, token) => {
        if (job.attemptsMade === 0 && (job.attemptsStarted ?? 1) <= 1) {
          const readyAt = job.timestamp + (job.opts.delay ?? 0);
          metrics.queueWait.observe({ queue }, Math.max(0, (job.processedOn ?? Date.now()) - readyAt) / 1000);
        }
        const entry = catalog.get(job.name);
        if (!entry) throw new UnrecoverableError(`no task named ${job.name}`);
        return entry.run(services, job, job.data, token);
      },
      { ...options, connection, prefix: bullPrefix(config.REDIS_PREFIX) },
    );
    worker.on('stalled', () => metrics.stalledRecovered.inc({ queue }));
    worker.on('failed', (job, err) => {
      if (job && !(err instanceof UnrecoverableError) && job.attemptsMade >= (job.opts.attempts ?? 1)) {
        reportError(err, { job_id: job.id });
      }
    });
    worker.on('error', (err) => logger.error({ err, queue }, 'worker error'));
    // A slot was taken or freed: top the fair queues up at once rather than at the next tick.
    worker.on('active', () => dispatcher.kick());
    worker.on('completed', () => dispatcher.kick());
    worker.on('failed', () => dispatcher.kick());
    return worker;
  });
  const dispatcher = startFairDispatcher({
    producer,
    queues,
    prefetch: config.FAIR_SHARE_PREFETCH,
    logger,
  });

  if (config.SCHEDULER_ENABLED) {
    const maintenance = producer.queue(QUEUES.maintenance);
    for (const s of schedules(config)) {
      await maintenance.upsertJobScheduler(s.name, { every: s.everyMs }, { name: s.name, data: {} });
    }
  }

  // Queue depth (autoscaling), Redis memory, mail outbox, tenants near quota: refreshed in the background.
  const stopGauges = startOpsGauges({ db, redis: connection, producer, queues, plans, metrics, logger });

  const server = http.createServer(async (req, res) => {
    if (req.url === '/metrics') {
      res.setHeader('content-type', metrics.registry.contentType);
      res.end(await metrics.registry.metrics());
    } else if (req.url === '/healthz') {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ status: workers.every((w) => w.isRunning()) ? 'ok' : 'stopping' }));
    } else if (req.url === '/readyz') {
      // Ready = taking jobs and both datastores answer within 750 ms (a draining worker is not).
      const [pg, redis] = await Promise.allSettled([
        withTimeout(db.raw('select 1'), 750, 'postgres readiness check'),
        withTimeout(connection.ping(), 750, 'redis readiness check'),
      ]);
      const running = workers.every((w) => w.isRunning());
      const ok = running && pg.status === 'fulfilled' && redis.status === 'fulfilled';
      res.statusCode = ok ? 200 : 503;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ status: ok ? 'ok' : running ? 'unavailable' : 'stopping' }));
    } else {
      res.statusCode = 404;
      res.end();
    }
  });
  server.listen(config.METRICS_PORT);
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  logger.info(
    {
      queues,
      concurrency,
      metrics_port: port,
      tts: tts?.name,
      tts_fallback: config.TTS_HTTP_URL ? config.TTS_FALLBACK : undefined,
      storage: store.backend,
    },
    'worker started',
  );

  return {
    metricsUrl: `http://127.0.0.1:${port}/metrics`,
    services,
    async stop() {
      stopGauges();
      await dispatcher.stop();
      // close() stops taking jobs and waits for the active ones to finish: a deploy drains.
      await Promise.all(workers.map((w) => w.close()));
      await producer.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      if (!given.mailer) mailer.close();
      if (!ttsGiven) tts?.close?.();
      connection.disconnect();
      store.close();
      await db.destroy();
      await flushSentry();
      logger.info('worker stopped');
    },
  };
}

/**
 * espeak-ng on the worker, or the hosted provider behind one circuit breaker shared by every job of
 * this process, falling back to espeak-ng (TTS_FALLBACK=espeak) or failing with tts_unavailable (none).
 */
async function createTts(
  config: Config,
  metrics: ReturnType<typeof createMetrics>,
  logger: ReturnType<typeof createLogger>,
): Promise<TtsProvider> {
  if (!config.TTS_HTTP_URL) return createEspeakProvider();
  return createResilientTtsProvider({
    primary: createHttpTtsProvider({
      url: config.TTS_HTTP_URL,
      apiKey: config.TTS_HTTP_API_KEY,
      timeoutMs: config.TTS_HTTP_TIMEOUT_SECONDS * 1000,
    }),
    fallback: config.TTS_FALLBACK === 'espeak' ? await createEspeakProvider() : null,
    attempts: config.TTS_HTTP_ATTEMPTS,
    resetTimeoutMs: config.TTS_BREAKER_RESET_SECONDS * 1000,
    metrics,
    logger,
  });
}
