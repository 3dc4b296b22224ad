import { UnrecoverableError, Worker } from 'bullmq';
import type { Config } from '../../shared/config/config.ts';
import { createDb } from '../../shared/db/db.ts';
import { createEventWriter } from '../../shared/events/event-stream.ts';
import { createJobRepository } from '../../shared/jobs/job-repository.ts';
import { createLogger } from '../../shared/logging/logger.ts';
import { createMailer } from '../../shared/mail/mailer.ts';
import { createMetrics } from '../../shared/metrics/metrics.ts';
import { createProducer } from '../../shared/queue/producer.ts';
import { bullPrefix, JOB_NAMES, QUEUES, tenantJobPayload } from '../../shared/queue/queues.ts';
import { createRedis } from '../../shared/redis/redis.ts';
import { createStorage } from '../../shared/storage/create-storage.ts';
import { runTenantJob } from '../../workers/jobs/job-runner.ts';
import type { WorkerServices } from '../../workers/jobs/services.ts';
import type { AccountBilling } from '../../workers/jobs/step.ts';
import { deletionJob } from '../../workers/tasks/account/deletion-task.ts';
import { exportJob } from '../../workers/tasks/account/export-task.ts';
import { workerOptions } from '../../workers/worker-settings.ts';

/**
 * A worker for the `account` queue alone, built like `workers/main.ts` (same runner, same lock
 * and stall settings) but independent of the catalog, so chaos scenarios can run it as a real
 * process — and kill it — with a billing hook of their choosing.
 */
export async function startAccountWorker(config: Config, extra: { billing?: AccountBilling } = {}) {
  const logger = createLogger(config.LOG_LEVEL, 'account-worker');
  const db = createDb(config.DATABASE_URL, { poolMax: 4 });
  const connection = createRedis(config.redisTarget, { name: 'rendermill-account-worker' });
  const producer = createProducer(connection, config.REDIS_PREFIX, { fairShare: config.FAIR_SHARE });
  const mailer = createMailer({
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
    storage: createStorage(config).storage,
    producer,
    metrics: createMetrics('worker'),
    events: createEventWriter({ redis: connection, redisPrefix: config.REDIS_PREFIX, logger }),
    ...extra,
  };
  const worker = new Worker(
    QUEUES.account,
    async (job) => {
      const data = tenantJobPayload.parse(job.data);
      const store = createJobRepository();
      if (job.name === JOB_NAMES.export) return runTenantJob(services, store, exportJob, job, data);
      if (job.name === JOB_NAMES.deletion) return runTenantJob(services, store, deletionJob, job, data);
      throw new UnrecoverableError(`no task named ${job.name}`);
    },
    {
      ...workerOptions({ concurrency: 1, backoffScale: config.JOB_BACKOFF_SCALE, catalog: new Map() }),
      connection,
      prefix: bullPrefix(config.REDIS_PREFIX),
    },
  );
  return {
    async stop() {
      await worker.close();
      await producer.close();
      mailer.close();
      connection.disconnect();
      await db.destroy();
    },
  };
}

export const start = (config: Config) => startAccountWorker(config);
