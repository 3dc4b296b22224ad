import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTenantGenerations } from '../../../shared/auth/tenant-generation.ts';
import { QuotaExceededError, UpgradeRequiredError } from '../../../shared/errors/http-errors.ts';
import { createEventWriter } from '../../../shared/events/event-stream.ts';
import { newId } from '../../../shared/ids/ids.ts';
import { createJobRepository } from '../../../shared/jobs/job-repository.ts';
import { renderRequestSchema } from '../../../shared/jobs/job-requests.ts';
import { createLogger } from '../../../shared/logging/logger.ts';
import { periodKey } from '../../../shared/metering/periods.ts';
import { createPlanGate } from '../../../shared/metering/plan-gate.ts';
import { loadPlanCatalogue } from '../../../shared/metering/plans.ts';
import { createQuotaService } from '../../../shared/metering/quota-service.ts';
import { createMetrics } from '../../../shared/metrics/metrics.ts';
import { createProducer, type Producer } from '../../../shared/queue/producer.ts';
import { createLocalStorage } from '../../../shared/storage/local-storage.ts';
import { present } from '../../../shared/testing/present.ts';
import { createTestEnv, type TestEnv } from '../../../shared/testing/test-env.ts';
import { createIdempotencyStore } from './idempotency-store.ts';
import { createJobService, type JobServiceDeps } from './job-service.ts';
import { readRenderShort } from './jobs-test-kit.ts';
import type { JobActor } from './submit-job.ts';
import { createTenantStateReader } from './tenant-state.ts';

// These drive the use case directly, with metering's quota and gate replaced where a test needs to
// see or force what they do.
let env: TestEnv;
let producer: Producer;
let tenantId: string;
let actor: JobActor;
const plans = loadPlanCatalogue();
const quota = createQuotaService({ plans });
let submission: { kind: 'render'; request: ReturnType<typeof renderRequestSchema.parse> };

beforeAll(async () => {
  env = await createTestEnv();
  producer = createProducer(env.redis, env.config.REDIS_PREFIX);
  tenantId = newId('ten');
  await env.db('tenants').insert({ id: tenantId, name: 'Seams' });
  actor = {
    tenantId,
    actorId: 'usr_test',
    audit: { actorType: 'user', actorId: 'usr_test', requestId: 'req_1' },
  };
  submission = { kind: 'render', request: renderRequestSchema.parse(await readRenderShort()) };
});
afterAll(async () => {
  await producer.close();
  await env.cleanup();
});

function service(over: Partial<JobServiceDeps> = {}) {
  return createJobService({
    db: env.db,
    jobs: createJobRepository(),
    idempotency: createIdempotencyStore(),
    producer,
    storage: createLocalStorage(env.config.STORAGE_DIR),
    logger: createLogger('silent', 'test'),
    metrics: createMetrics('api'),
    events: createEventWriter({
      redis: env.redis,
      redisPrefix: env.config.REDIS_PREFIX,
      logger: createLogger('silent', 'test'),
    }),
    publicUrl: env.config.PUBLIC_URL,
    signingSecret: env.config.JWT_SECRET,
    allowPrivateHosts: [],
    quota,
    gate: createPlanGate({ plans }),
    plans,
    // Actors here carry no tenant generation, so the state is read from Postgres on every call.
    tenantState: createTenantStateReader({
      db: env.db,
      cache: {
        generations: createTenantGenerations(
          env.redis,
          env.config.REDIS_PREFIX,
          createLogger('silent', 'test'),
        ),
        logger: createLogger('silent', 'test'),
      },
    }),
    queueTimeoutMs: 300,
    ...over,
  });
}

const count = async (table: string) =>
  Number((await env.db(table).where({ tenant_id: tenantId }).count({ n: '*' }))[0]?.n);

describe('submit: Redis refuses the enqueue', () => {
  it('when the add fails, then the job is still accepted, left for the reconciler, and a replay enqueues it', async () => {
    const broken: Producer = { ...producer, enqueueJob: () => Promise.reject(new Error('ECONNREFUSED')) };
    const { job } = await service({ producer: broken }).submit(actor, submission, 'redis-down-1');
    expect(job.status).toBe('queued');
    const row = await env.db('jobs').where({ id: job.id }).first();
    expect(row).toMatchObject({ status: 'queued', enqueued_at: null });
    expect(await producer.queue('render').getJob(job.id)).toBeUndefined();

    const healthy = service();
    const again = await healthy.submit(actor, submission, 'redis-down-1');
    expect(again).toMatchObject({ replayed: true, job: { id: job.id } });
    expect(await producer.queue('render').getJob(job.id)).toBeDefined();
    // The outbox mark is batched after the add: drain writes it.
    await healthy.drain();
    expect(present(await env.db('jobs').where({ id: job.id }).first()).enqueued_at).toBeInstanceOf(Date);
  });

  it('when the add hangs, then submit answers after the queue timeout', async () => {
    const hanging: Producer = { ...producer, enqueueJob: () => new Promise(() => {}) };
    const started = Date.now();
    const { job } = await service({ producer: hanging }).submit(actor, submission, null);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(present(await env.db('jobs').where({ id: job.id }).first()).enqueued_at).toBeNull();
  });
});

describe('submit: quota seams', () => {
  it('when the reservation does not fit (402), then nothing is written, counters included, and the key is not burnt', async () => {
    // Images and TTS fit; render seconds are at the free plan's limit. The statement books the
    // first two before it finds the third does not fit: all three must be undone with the job.
    const period = periodKey(new Date());
    const limit = plans.get('free').limits.render_seconds ?? 0;
    expect(limit).toBeGreaterThan(0);
    const key = { tenant_id: tenantId, period_start: period, metric: 'render_seconds' as const };
    const usedBefore = (await env.db('usage_counters').where(key).first())?.used ?? 0;
    await env
      .db('usage_counters')
      .insert({ ...key, used: limit, reserved: 0 })
      .onConflict(['tenant_id', 'period_start', 'metric'])
      .merge({ used: limit, reserved: 0 });
    const counters = () =>
      env
        .db('usage_counters')
        .select('metric', 'used', 'reserved')
        .where({ tenant_id: tenantId })
        .orderBy('metric');
    const before = {
      jobs: await count('jobs'),
      keys: await count('idempotency_keys'),
      audit: await count('audit_log'),
      reservations: await count('job_reservations'),
      counters: await counters(),
    };
    const refused = await service()
      .submit(actor, submission, 'quota-1')
      .catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(QuotaExceededError);
    expect((refused as QuotaExceededError).details).toMatchObject({
      metric: 'render_seconds',
      limit,
      used: limit,
      reserved: 0,
    });
    expect((refused as QuotaExceededError).details.requested).toBeGreaterThan(0);
    expect({
      jobs: await count('jobs'),
      keys: await count('idempotency_keys'),
      audit: await count('audit_log'),
      reservations: await count('job_reservations'),
      counters: await counters(),
    }).toEqual(before);
    // The key was not burnt: the same request succeeds once quota allows it.
    await env.db('usage_counters').where(key).update({ used: usedBefore });
    const ok = await service().submit(actor, submission, 'quota-1');
    expect(ok.replayed).toBe(false);
  });

  it('when the plan gate refuses, then it throws before any write and no reservation is prepared', async () => {
    const before = await count('jobs');
    let reserved = false;
    // The real gate: the tenant is on the free plan, which stops below 2160p.
    const gated = service({
      quota: {
        ...quota,
        prepare: async (db, args) => {
          reserved = true;
          return quota.prepare(db, args);
        },
      },
    });
    const uhd = { ...submission, request: { ...submission.request, resolution: '2160p' as const } };
    await expect(gated.submit(actor, uhd, null)).rejects.toBeInstanceOf(UpgradeRequiredError);
    expect(reserved).toBe(false);
    expect(await count('jobs')).toBe(before);
  });

  it('when a queued job is canceled, then release runs in the cancel transaction', async () => {
    const released: string[] = [];
    const svc = service({
      quota: {
        ...quota,
        release: async (trx, args) => {
          const row = present(await trx('jobs').where({ id: args.jobId }).first());
          released.push(`${args.tenantId}:${args.jobId}:${row.status}`);
          await quota.release(trx, args);
        },
      },
    });
    const { job } = await svc.submit(actor, submission, null);
    await svc.cancel(actor, job.id);
    expect(released).toEqual([`${tenantId}:${job.id}:canceled`]);
  });
});

describe('submit: the prepared statement', () => {
  it('when a migration changes the jobs table after the statement was prepared, then submits still succeed', async () => {
    const svc = service();
    // Every pooled connection prepares it (the pool has several; run more submits than that).
    for (let i = 0; i < 12; i++) await svc.submit(actor, submission, null);
    await env.db.raw('ALTER TABLE jobs ADD COLUMN rm_test_column text');
    try {
      for (let i = 0; i < 12; i++) {
        const { job } = await svc.submit(actor, submission, null);
        expect(job.status).toBe('queued');
      }
    } finally {
      await env.db.raw('ALTER TABLE jobs DROP COLUMN rm_test_column');
    }
  });
});

describe('submit: group commit', () => {
  const plan = 'free';

  async function newTenant(name: string) {
    const id = newId('ten');
    await env.db('tenants').insert({ id, name, plan });
    const a: JobActor = {
      tenantId: id,
      actorId: 'usr_test',
      audit: { actorType: 'user', actorId: 'usr_test', requestId: `req_${name}` },
    };
    return { id, actor: a };
  }
  const rows = (table: 'jobs' | 'audit_log' | 'job_reservations' | 'idempotency_keys', tenant: string) =>
    env.db(table).where({ tenant_id: tenant });
  const counter = async (tenant: string) =>
    (
      await env
        .db('usage_counters')
        .where({ tenant_id: tenant, period_start: periodKey(new Date()), metric: 'render_seconds' })
        .first()
    )?.reserved ?? 0;

  /**
   * One statement slot (maxInFlight 1), held by a submission whose counter row the test has
   * locked; `burst` is started meanwhile, and the lock is released once all of it waits. Its
   * submissions then go together, in groups of up to 32.
   */
  async function whileAStatementIsInFlight<T>(burst: (svc: ReturnType<typeof service>) => Array<Promise<T>>) {
    const metrics = createMetrics('api');
    const svc = service({ metrics, groupCommit: { maxInFlight: 1, maxItems: 32 } });
    const blocker = await newTenant('blocker');
    const key = {
      tenant_id: blocker.id,
      period_start: periodKey(new Date()),
      metric: 'render_seconds' as const,
    };
    await env.db('usage_counters').insert({ ...key, used: 0, reserved: 0 });
    const lock = await env.db.transaction();
    const waiting = async () => (await metrics.submitWaiting.get()).values[0]?.value ?? 0;
    try {
      await lock('usage_counters').where(key).forUpdate();
      const first = svc.submit(blocker.actor, submission, null);
      await expect.poll(waiting).toBe(1);
      const started = burst(svc);
      await expect.poll(waiting).toBe(1 + started.length);
      await lock.commit();
      await first;
      const settled = await Promise.allSettled(started);
      const sizes = (await metrics.submitGroupSize.get()).values;
      const observed = {
        count: sizes.find((v) => v.metricName === 'rendermill_submit_group_size_count')?.value,
        sum: sizes.find((v) => v.metricName === 'rendermill_submit_group_size_sum')?.value,
      };
      return { settled, observed };
    } finally {
      if (!lock.isCompleted()) await lock.rollback();
    }
  }

  it('when submissions arrive while a statement is in flight, then one statement writes them all, each with its own job, reservation, audit entry and share of the counter', async () => {
    const t = await newTenant('burst');
    const { settled, observed } = await whileAStatementIsInFlight((svc) =>
      Array.from({ length: 20 }, () => svc.submit(t.actor, submission, null)),
    );
    // Two statements: the blocker's, then all 20 together.
    expect(observed).toEqual({ count: 2, sum: 21 });
    const ids = settled.map((r) => (r.status === 'fulfilled' ? r.value.job.id : String(r.reason)));
    expect(new Set(ids).size).toBe(20);
    const jobs = await rows('jobs', t.id).select('id', 'status', 'estimate');
    expect(jobs.map((j) => j.id).sort()).toEqual([...ids].sort());
    expect(jobs.every((j) => j.status === 'queued')).toBe(true);
    const audit = await rows('audit_log', t.id).where({ action: 'job.submitted' }).select('target_id');
    expect(audit.map((a) => a.target_id).sort()).toEqual([...ids].sort());
    const reservations = await rows('job_reservations', t.id).select('job_id');
    expect(reservations.map((r) => r.job_id).sort()).toEqual([...ids].sort());
    const perJob = jobs[0]!.estimate.render_seconds ?? 0;
    expect(perJob).toBeGreaterThan(0);
    expect(await counter(t.id)).toBeCloseTo(20 * perJob, 6);
  });

  it('when one submission of a group does not fit its quota, then it alone answers 402 and writes nothing, and the rest are accepted', async () => {
    const full = await newTenant('full');
    const ok = await newTenant('ok');
    const limit = plans.get(plan).limits.render_seconds ?? 0;
    await env.db('usage_counters').insert({
      tenant_id: full.id,
      period_start: periodKey(new Date()),
      metric: 'render_seconds',
      used: limit,
      reserved: 0,
    });
    const { settled, observed } = await whileAStatementIsInFlight((svc) => [
      ...Array.from({ length: 5 }, () => svc.submit(ok.actor, submission, null)),
      svc.submit(full.actor, submission, 'full-1'),
      ...Array.from({ length: 5 }, () => svc.submit(ok.actor, submission, null)),
    ]);
    expect(observed).toEqual({ count: 2, sum: 12 });
    expect(settled.map((r) => r.status)).toEqual([
      ...Array(5).fill('fulfilled'),
      'rejected',
      ...Array(5).fill('fulfilled'),
    ]);
    expect((settled[5] as PromiseRejectedResult).reason).toBeInstanceOf(QuotaExceededError);
    expect(await rows('jobs', ok.id).count({ n: '*' })).toEqual([{ n: 10 }]);
    for (const table of ['jobs', 'audit_log', 'job_reservations', 'idempotency_keys'] as const) {
      expect(await rows(table, full.id).count({ n: '*' })).toEqual([{ n: 0 }]);
    }
    expect(await counter(full.id)).toBe(0);
  });

  it('when the same Idempotency-Key comes twice in one burst, then one job is made and the twin replays it', async () => {
    const t = await newTenant('twins');
    const { settled } = await whileAStatementIsInFlight((svc) => [
      svc.submit(t.actor, submission, 'twin'),
      svc.submit(t.actor, submission, 'other'),
      svc.submit(t.actor, submission, 'twin'),
    ]);
    const [a, b, c] = settled.map((r) => {
      if (r.status === 'rejected') throw r.reason;
      return r.value;
    });
    expect(a!.job.id).toBe(c!.job.id);
    expect([a!.replayed, c!.replayed].sort()).toEqual([false, true]);
    expect(b!.job.id).not.toBe(a!.job.id);
    expect(await rows('jobs', t.id).count({ n: '*' })).toEqual([{ n: 2 }]);
  });
});

describe('submit: group commit when the connection is lost', () => {
  it('when the statement of a group loses its backend, then every submission of the group fails and none is written again alone', async () => {
    const id = newId('ten');
    await env.db('tenants').insert({ id, name: 'lost', plan: 'free' });
    const lost: JobActor = { ...actor, tenantId: id };
    const key = { tenant_id: id, period_start: periodKey(new Date()), metric: 'render_seconds' as const };
    await env.db('usage_counters').insert({ ...key, used: 0, reserved: 0 });
    const metrics = createMetrics('api');
    const svc = service({ metrics, groupCommit: { maxInFlight: 1, maxItems: 32 } });
    // The statements wait on the tenant's counter row; each is killed while it waits. A lost
    // connection cannot say whether a commit happened, so nothing may be written again.
    const lock = await env.db.transaction();
    const killWaitingStatement = async () => {
      let pid: number | undefined;
      await expect
        .poll(async () => {
          const { rows } = await env.db.raw<{ rows: Array<{ pid: number }> }>(
            `SELECT pid FROM pg_stat_activity
             WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE 'WITH%'`,
          );
          pid = rows[0]?.pid;
          return rows.length;
        })
        .toBe(1);
      await env.db.raw('SELECT pg_terminate_backend(?)', [pid!]);
    };
    const waiting = async () => (await metrics.submitWaiting.get()).values[0]?.value ?? 0;
    try {
      await lock('usage_counters').where(key).forUpdate();
      const first = svc.submit(lost, submission, null).catch((err: unknown) => err);
      await expect.poll(waiting).toBe(1);
      const burst = Array.from({ length: 6 }, () =>
        svc.submit(lost, submission, null).catch((e: unknown) => e),
      );
      await expect.poll(waiting).toBe(7);
      await killWaitingStatement(); // the first, alone
      await expect(first).resolves.toMatchObject({ code: '57P01' });
      await killWaitingStatement(); // the six, together
      const results = await Promise.all(burst);
      expect(results.map((r) => (r as { code?: string }).code)).toEqual(Array(6).fill('57P01'));
      const sizes = (await metrics.submitGroupSize.get()).values;
      expect(sizes.find((v) => v.metricName === 'rendermill_submit_group_size_sum')?.value).toBe(7);
    } finally {
      await lock.rollback();
    }
    expect(await env.db('jobs').where({ tenant_id: id }).count({ n: '*' })).toEqual([{ n: 0 }]);
    expect(await env.db('audit_log').where({ tenant_id: id }).count({ n: '*' })).toEqual([{ n: 0 }]);
    expect(present(await env.db('usage_counters').where(key).first()).reserved).toBe(0);
  });
});
