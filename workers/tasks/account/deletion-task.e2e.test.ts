import type { Job } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tenantPseudonym } from '../../../shared/account/tenant-pseudonym.ts';
import { createTenantGenerations, generationKey } from '../../../shared/auth/tenant-generation.ts';
import { createEventWriter } from '../../../shared/events/event-stream.ts';
import { newId } from '../../../shared/ids/ids.ts';
import { createJobRepository } from '../../../shared/jobs/job-repository.ts';
import { createLogger } from '../../../shared/logging/logger.ts';
import { createMailer, type Mailer } from '../../../shared/mail/mailer.ts';
import { createMetrics } from '../../../shared/metrics/metrics.ts';
import { createProducer, type Producer } from '../../../shared/queue/producer.ts';
import { ALL_QUEUES } from '../../../shared/queue/queues.ts';
import { createRedis, type RedisClient } from '../../../shared/redis/redis.ts';
import { createLocalStorage } from '../../../shared/storage/local-storage.ts';
import { tenantPrefix } from '../../../shared/storage/storage.ts';
import { present } from '../../../shared/testing/present.ts';
import { startSmtpSink } from '../../../shared/testing/smtp-sink.ts';
import { createTestEnv, type TestEnv } from '../../../shared/testing/test-env.ts';
import { runTenantJob } from '../../jobs/job-runner.ts';
import type { StepServices } from '../../jobs/step.ts';
import { type SeededTenant, seedTenant } from '../../testing/account-fixture.ts';
import { loadJob, runSteps } from '../../testing/run-steps.ts';
import { scanDatabase } from '../../testing/scan-database.ts';
import { deletionJob, deletionSteps } from './deletion-task.ts';

let env: TestEnv;
let smtp: Awaited<ReturnType<typeof startSmtpSink>>;
let mailer: Mailer;
let connection: RedisClient;
let producer: Producer;
let services: StepServices;
let keep: SeededTenant;

beforeAll(async () => {
  smtp = await startSmtpSink();
  env = await createTestEnv({ SMTP_URL: smtp.url });
  const logger = createLogger('silent', 'test');
  mailer = createMailer({ smtpUrl: smtp.url, from: 'test@rendermill.test', outboxDir: env.dir, logger });
  connection = createRedis(env.config.REDIS_URL);
  producer = createProducer(connection, env.config.REDIS_PREFIX);
  services = {
    config: env.config,
    db: env.db,
    logger,
    mailer,
    storage: createLocalStorage(env.config.STORAGE_DIR),
    producer,
    generations: createTenantGenerations(connection, env.config.REDIS_PREFIX, logger),
  };
  keep = await seedTenant(env.db, services.storage, { label: 'keep' });
  await producer.enqueueJob({ id: keep.jobs.queued, tenant_id: keep.tenantId, kind: 'tts' });
});
afterAll(async () => {
  await producer.close();
  connection.disconnect();
  mailer.close();
  await smtp.close();
  await env.cleanup();
});

/** A tenant sharing `keep`'s owner, with BullMQ entries for its jobs and callback, and a due deletion. */
async function doomed(label: string) {
  const t = await seedTenant(env.db, services.storage, { label, sharedUser: keep.owner });
  for (const [id, kind] of [
    [t.jobs.done, 'render'],
    [t.jobs.queued, 'tts'],
    [t.jobs.running, 'image'],
  ] as const) {
    await producer.enqueueJob({ id, tenant_id: t.tenantId, kind });
  }
  const delivery = present(await env.db('webhook_deliveries').where({ tenant_id: t.tenantId }).first());
  await producer.enqueueCallback({ deliveryId: delivery.id, tenantId: t.tenantId });
  const id = newId('job');
  const scheduledFor = new Date(Date.now() - 1000).toISOString();
  await env.db('jobs').insert({
    id,
    tenant_id: t.tenantId,
    kind: 'deletion',
    payload: { requested_by: t.owner.id, scheduled_for: scheduledFor },
  });
  await env.db('tenants').update({ deletion_scheduled_for: scheduledFor }).where({ id: t.tenantId });
  return {
    t,
    job: await loadJob(env.db, id),
    payload: { requested_by: t.owner.id, scheduled_for: scheduledFor },
  };
}

const needles = (t: SeededTenant) => [
  t.tenantId,
  ...[t.owner, t.admin, t.member].flatMap((u) => [u.id, u.email]),
  `invitee.${t.label}@example.com`,
];

async function bullJobsOf(tenantId: string) {
  const found: string[] = [];
  for (const q of ALL_QUEUES) {
    const jobs = await producer
      .queue(q)
      .getJobs(['waiting', 'delayed', 'active', 'completed', 'failed', 'prioritized', 'waiting-children']);
    for (const j of jobs) if (j?.data?.tenantId === tenantId) found.push(`${q}:${j.id}`);
  }
  return found;
}

async function rowCounts(tenantId: string) {
  const n = async (table: string) =>
    Number((await env.db(table).where({ tenant_id: tenantId }).count({ n: '*' }))[0]?.n);
  return {
    memberships: await n('memberships'),
    jobs: await n('jobs'),
    sessions: await n('sessions'),
    api_keys: await n('api_keys'),
    audit_log: await n('audit_log'),
    usage_events: await n('usage_events'),
    objects: (await services.storage.list(tenantPrefix(tenantId))).length,
  };
}

describe('account deletion steps', () => {
  it('when the deletion runs, then no row, file or queue entry names the tenant or its own users, and the rest is intact', async () => {
    const keepBefore = await rowCounts(keep.tenantId);
    const { t, job, payload } = await doomed('gone');
    const mailsBefore = smtp.mails.length;
    const generation = generationKey(env.config.REDIS_PREFIX, t.tenantId);
    const generationBefore = await connection.get(generation);

    await runSteps(deletionSteps, { services, job, payload });
    // API replicas cache the tenant's keys and sessions: the revocation bumped their generation.
    expect(await connection.get(generation)).not.toBe(generationBefore);

    // The scan finds what exists: the surviving tenant is all over the database.
    expect((await scanDatabase(env.db, [keep.tenantId])).length).toBeGreaterThan(10);
    expect(await scanDatabase(env.db, needles(t))).toEqual([]);
    expect(await services.storage.list(tenantPrefix(t.tenantId))).toEqual([]);
    expect(await bullJobsOf(t.tenantId)).toEqual([]);

    const receipt = present(await env.db('deletion_receipts').where({ job_id: job.id }).first());
    expect(receipt.tenant_ref).toBe(tenantPseudonym(t.tenantId));
    expect(receipt.completed_at).toBeInstanceOf(Date);
    expect(receipt.notified_at).toBeInstanceOf(Date);
    expect(receipt.counts).toMatchObject({
      tenant: 1,
      members: 4,
      users: 3,
      sessions: 4,
      refresh_tokens: 4,
      api_keys: 1,
      invites: 1,
      jobs: 4,
      job_steps: 3,
      idempotency_keys: 1,
      webhook_deliveries: 1,
      audit_log: 3,
      usage_counters: 1,
      storage_objects: 3,
      usage_events_pseudonymised: 3,
    });

    // Invoices stay reproducible: the ledger keeps its quantities under the pseudonym.
    const ledger = await env
      .db('usage_events')
      .where({ tenant_id: tenantPseudonym(t.tenantId) })
      .orderBy('quantity');
    expect(ledger.map((e) => e.quantity)).toEqual([1, 3.2, 4.5]);

    const mail = await smtp.waitFor(
      (m, i = smtp.mails.indexOf(m)) => i >= mailsBefore && m.to.includes(t.owner.email),
    );
    expect(mail.subject).toBe('Your Rendermill account has been deleted');
    expect(mail.text).toContain(receipt.id);
    expect(smtp.mails.slice(mailsBefore).flatMap((m) => m.to)).toEqual([t.owner.email]);

    // The user who also belongs to another tenant stays, with everything of that tenant.
    expect(await env.db('users').where({ id: keep.owner.id }).first()).toBeTruthy();
    expect(await rowCounts(keep.tenantId)).toEqual(keepBefore);
    expect(await bullJobsOf(keep.tenantId)).toHaveLength(1);
  });

  it('when the steps run a second time, then they succeed and change nothing', async () => {
    const { t, job, payload } = await doomed('twice');
    await runSteps(deletionSteps, { services, job, payload });
    const receipt = await env.db('deletion_receipts').where({ job_id: job.id }).first();
    const mails = smtp.mails.length;

    await runSteps(deletionSteps, { services, job, payload });

    expect(await env.db('deletion_receipts').where({ job_id: job.id }).first()).toEqual(receipt);
    expect(await scanDatabase(env.db, needles(t))).toEqual([]);
    // No wait needed: the notify step awaits each send, which resolves once the SMTP sink has
    // recorded the mail — a second receipt mail would already be counted when runSteps returns.
    expect(smtp.mails.length).toBe(mails);
  });

  it('when the deletion crashes after its second step, then a fresh run completes it with the first census', async () => {
    const { t, job, payload } = await doomed('crash');
    await runSteps(deletionSteps, { services, job, payload, stopAfter: 'cancel-jobs' });
    const partial = present(await env.db('deletion_receipts').where({ job_id: job.id }).first());
    expect(partial.completed_at).toBeNull();
    expect(await env.db('sessions').where({ tenant_id: t.tenantId }).whereNull('revoked_at')).toEqual([]);
    expect(await env.db('jobs').where({ tenant_id: t.tenantId, status: 'queued' })).toEqual([
      expect.objectContaining({ id: job.id }),
    ]);

    // The process died: nothing of the first run's results survives but what it wrote.
    await runSteps(deletionSteps, { services, job, payload });

    const done = present(await env.db('deletion_receipts').where({ job_id: job.id }).first());
    expect(done.counts).toEqual(partial.counts);
    expect(done.completed_at).toBeInstanceOf(Date);
    expect(await scanDatabase(env.db, needles(t))).toEqual([]);
    expect(await services.storage.list(tenantPrefix(t.tenantId))).toEqual([]);
  });

  it('when the deletion is interrupted in the middle of erasing rows, then the next run finishes the job', async () => {
    const { t, job, payload } = await doomed('midway');
    const crash = new AbortController();
    await expect(
      runSteps(deletionSteps, {
        services,
        job,
        payload,
        signal: crash.signal,
        onProgress: (step) => step === 'erase-data' && crash.abort(new Error('killed')),
      }),
    ).rejects.toThrow('killed');
    expect(await env.db('tenants').where({ id: t.tenantId }).first()).toBeTruthy();
    expect(await env.db('audit_log').where({ tenant_id: t.tenantId })).not.toHaveLength(0);

    await runSteps(deletionSteps, { services, job, payload });

    expect(await scanDatabase(env.db, needles(t))).toEqual([]);
    expect(
      present(await env.db('deletion_receipts').where({ job_id: job.id }).first()).completed_at,
    ).toBeInstanceOf(Date);
  });

  it('when the job runner runs the deletion, then the job that erased its own row ends without error or retry', async () => {
    const { t, job } = await doomed('runner');
    const fakeBull = { attemptsMade: 0, opts: { attempts: 10 } } as unknown as Job;
    await runTenantJob(
      {
        ...services,
        producer,
        metrics: createMetrics('worker'),
        events: createEventWriter({
          redis: connection,
          redisPrefix: env.config.REDIS_PREFIX,
          logger: services.logger,
        }),
      },
      createJobRepository(),
      deletionJob,
      fakeBull,
      { jobId: job.id, tenantId: t.tenantId },
    );
    expect(await env.db('jobs').where({ id: job.id }).first()).toBeUndefined();
    expect(await scanDatabase(env.db, needles(t))).toEqual([]);
  });

  it('when the deletion was canceled, then its first step refuses and nothing is touched', async () => {
    const { t, job, payload } = await doomed('canceled');
    await env.db('tenants').update({ deletion_scheduled_for: null }).where({ id: t.tenantId });
    const before = await rowCounts(t.tenantId);
    await expect(runSteps(deletionSteps, { services, job, payload })).rejects.toMatchObject({
      code: 'deletion_canceled',
    });
    expect(await rowCounts(t.tenantId)).toEqual(before);
    expect(await env.db('sessions').where({ tenant_id: t.tenantId }).whereNotNull('revoked_at')).toEqual([]);
  });

  it('when the grace period has not ended, then the deletion refuses to run early', async () => {
    const { t, job } = await doomed('early');
    const later = { requested_by: t.owner.id, scheduled_for: new Date(Date.now() + 3_600_000).toISOString() };
    await expect(runSteps(deletionSteps, { services, job, payload: later })).rejects.toThrow(
      /refusing to run earlier/,
    );
    expect(await env.db('deletion_receipts').where({ job_id: job.id }).first()).toBeUndefined();
  });
});
