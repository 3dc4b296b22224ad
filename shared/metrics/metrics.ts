import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/**
 * Every metric of the platform, declared once with typed labels. Each process role (api,
 * worker) makes its own registry, so one-process mode still exposes two clean /metrics pages.
 */
export function createMetrics(role: 'api' | 'worker') {
  const registry = new Registry();
  registry.setDefaultLabels({ role });
  collectDefaultMetrics({ register: registry, prefix: 'rendermill_' });
  const registers = [registry];
  return {
    registry,
    httpDuration: new Histogram({
      name: 'rendermill_http_request_duration_seconds',
      help: 'HTTP request duration by method, route and status',
      labelNames: ['method', 'route', 'status'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    databaseUnavailable: new Counter({
      name: 'rendermill_database_unavailable_total',
      help: 'API requests answered 503 database_unavailable, by what the driver said (SQLSTATE, socket error code, knex_timeout, connection_lost, connect_timeout)',
      labelNames: ['reason'] as const,
      registers,
    }),
    jobsSubmitted: new Counter({
      name: 'rendermill_jobs_submitted_total',
      help: 'Jobs accepted (202) by kind',
      labelNames: ['kind'] as const,
      registers,
    }),
    submitGroupSize: new Histogram({
      name: 'rendermill_submit_group_size',
      help: 'Submissions written together by one statement (group commit; 1 when the API is idle)',
      buckets: [1, 2, 4, 8, 16, 32, 64],
      registers,
    }),
    submitWaiting: new Gauge({
      name: 'rendermill_submit_waiting',
      help: 'Submissions waiting for their group statement or in one now',
      registers,
    }),
    jobsFinished: new Counter({
      name: 'rendermill_jobs_finished_total',
      help: 'Jobs that reached a final status, by kind and outcome',
      labelNames: ['kind', 'outcome'] as const,
      registers,
    }),
    stepDuration: new Histogram({
      name: 'rendermill_step_duration_seconds',
      help: 'Step duration by job kind, step and outcome',
      labelNames: ['kind', 'step', 'outcome'] as const,
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300],
      registers,
    }),
    retries: new Counter({
      name: 'rendermill_job_retries_total',
      help: 'Job attempts that failed and will be retried',
      labelNames: ['kind'] as const,
      registers,
    }),
    stalledRecovered: new Counter({
      name: 'rendermill_stalled_jobs_recovered_total',
      help: 'Jobs whose worker died (lock lost) and that BullMQ handed to another worker',
      labelNames: ['queue'] as const,
      registers,
    }),
    reconcilerEnqueued: new Counter({
      name: 'rendermill_reconciler_enqueued_total',
      help: 'Jobs Postgres held as open that BullMQ had lost, enqueued again',
      registers,
    }),
    queueDepth: new Gauge({
      name: 'rendermill_queue_depth',
      help: 'Jobs in each queue by state',
      labelNames: ['queue', 'state'] as const,
      registers,
    }),
    cacheHits: new Counter({
      name: 'rendermill_cache_hits_total',
      help: 'Steps served from the per-tenant content-addressed cache',
      labelNames: ['kind'] as const,
      registers,
    }),
    ttsFallbacks: new Counter({
      name: 'rendermill_tts_fallbacks_total',
      help: 'Narrations spoken by the fallback engine because the hosted TTS provider could not (reason: breaker_open, provider_failed)',
      labelNames: ['provider', 'reason'] as const,
      registers,
    }),
    ttsBreakerState: new Gauge({
      name: 'rendermill_tts_breaker_state',
      help: 'Circuit breaker in front of the hosted TTS provider: 0 closed, 1 half-open, 2 open',
      labelNames: ['provider'] as const,
      registers,
    }),
    unreportedUsageAge: new Gauge({
      name: 'rendermill_unreported_usage_oldest_seconds',
      help: 'Age of the oldest usage ledger row not yet reported to Stripe',
      registers,
    }),
    queueWait: new Histogram({
      name: 'rendermill_queue_wait_seconds',
      help: 'Time a job waited in its queue before its first attempt started',
      labelNames: ['queue'] as const,
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900],
      registers,
    }),
    usageRecorded: new Counter({
      name: 'rendermill_usage_recorded_total',
      help: 'Usage written to the ledger, in metric units (seconds, images, bytes)',
      labelNames: ['metric'] as const,
      registers,
    }),
    usageReported: new Counter({
      name: 'rendermill_usage_reported_total',
      help: 'Usage delivered to Stripe as meter events, in metric units (before rounding up per row)',
      labelNames: ['metric'] as const,
      registers,
    }),
    tenantsOverQuota: new Gauge({
      name: 'rendermill_tenants_over_quota_ratio',
      help: 'Tenants whose use this period has reached a fraction (threshold) of a plan limit, by metric',
      labelNames: ['metric', 'threshold'] as const,
      registers,
    }),
    mailOutboxPending: new Gauge({
      name: 'rendermill_mail_outbox_pending',
      help: 'Usage-alert mails recorded but not sent yet (they wait for the mail server)',
      registers,
    }),
    mailOutboxOldest: new Gauge({
      name: 'rendermill_mail_outbox_oldest_seconds',
      help: 'Age of the oldest usage-alert mail not sent yet (0 when none)',
      registers,
    }),
    redisMemoryUsed: new Gauge({
      name: 'rendermill_redis_memory_used_bytes',
      help: 'Redis used_memory (INFO memory), as seen by this worker',
      registers,
    }),
    redisMaxMemory: new Gauge({
      name: 'rendermill_redis_maxmemory_bytes',
      help: 'Redis maxmemory (0 = no limit), as seen by this worker',
      registers,
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
