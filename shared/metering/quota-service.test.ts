import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, type Knex } from '../db/db.ts';
import { QuotaExceededError } from '../errors/http-errors.ts';
import { newId } from '../ids/ids.ts';
import { present } from '../testing/present.ts';
import { insertTenant } from '../testing/tenant-fixture.ts';
import { createTestEnv, type TestEnv } from '../testing/test-env.ts';
import { periodKey, STORAGE_PERIOD } from './periods.ts';
import { parsePlanCatalogue } from './plans.ts';
import { createQuotaService, release, settle, sweepUnsettled } from './quota-service.ts';
import { releaseStorage } from './usage-counters.ts';
import { recordUsage } from './usage-ledger.ts';

const plans = parsePlanCatalogue({
  free: {
    limits: { render_seconds: 100, tts_seconds: 1000, images: 50, storage_bytes: 1000 },
    max_resolution: '1080p',
    overage: false,
  },
  pro: {
    limits: { render_seconds: 100, tts_seconds: 1000, images: 50, storage_bytes: 1000 },
    max_resolution: '2160p',
    overage: true,
  },
  enterprise: {
    limits: { render_seconds: null, tts_seconds: null, images: null, storage_bytes: null },
    max_resolution: '2160p',
    overage: false,
  },
});
const quota = createQuotaService({ plans });

let env: TestEnv;
// Its own pool: 50 submissions must really run at once, not queue on the 4 connections of env.db.
let wide: Knex;
beforeAll(async () => {
  env = await createTestEnv();
  wide = createDb(env.config.DATABASE_URL, { poolMax: 50 });
});
afterAll(async () => {
  await wide.destroy();
  await env.cleanup();
});

const period = periodKey(new Date());

async function counters(tenantId: string) {
  const rows = await env
    .db('usage_counters')
    .select('metric', 'used', 'reserved')
    .where({ tenant_id: tenantId, period_start: period });
  return Object.fromEntries(rows.map((r) => [r.metric, { used: r.used, reserved: r.reserved }]));
}

function reserve(db: Knex, tenantId: string, estimate: Record<string, number>, jobId = newId('job')) {
  return db.transaction((trx) => quota.reserve(trx, { tenantId, jobId, kind: 'render', estimate }));
}

describe('reserve', () => {
  it('when 50 submissions race for a hard limit that fits 10, then exactly 10 pass and the limit holds at every moment', async () => {
    const tenantId = await insertTenant(env.db);
    let sampling = true;
    const samples: number[] = [];
    const sampler = (async () => {
      while (sampling) {
        const row = await env
          .db('usage_counters')
          .select('used', 'reserved')
          .where({ tenant_id: tenantId, period_start: period, metric: 'render_seconds' })
          .first();
        if (row) samples.push(row.used + row.reserved);
        await new Promise((r) => setTimeout(r, 2));
      }
    })();

    const results = await Promise.allSettled(
      Array.from({ length: 50 }, () => reserve(wide, tenantId, { render_seconds: 10 })),
    );
    sampling = false;
    await sampler;

    const ok = results.filter((r) => r.status === 'fulfilled');
    const refused = results.flatMap((r) => (r.status === 'rejected' ? [r.reason] : []));
    expect(ok).toHaveLength(10);
    expect(refused).toHaveLength(40);
    for (const err of refused) {
      expect(err).toBeInstanceOf(QuotaExceededError);
      const e = err as QuotaExceededError;
      expect(e.status).toBe(402);
      expect(e.details).toMatchObject({ metric: 'render_seconds', limit: 100, requested: 10 });
      expect(e.details.used + e.details.reserved).toBeLessThanOrEqual(100);
      expect(e.details.resets_at).toMatch(/^\d{4}-\d{2}-01T00:00:00\.000Z$/);
      expect(new Date(e.details.resets_at).getTime()).toBeGreaterThan(Date.now());
    }
    expect(await counters(tenantId)).toEqual({ render_seconds: { used: 0, reserved: 100 } });
    expect(samples.length).toBeGreaterThan(0);
    expect(Math.max(...samples)).toBeLessThanOrEqual(100);
    expect(await env.db('job_reservations').where({ tenant_id: tenantId }).count({ n: '*' })).toEqual([
      { n: 10 },
    ]);
  });

  it('when one metric of an estimate does not fit, then nothing of it stays reserved', async () => {
    const tenantId = await insertTenant(env.db);
    await reserve(env.db, tenantId, { render_seconds: 10, images: 45 });
    await expect(reserve(env.db, tenantId, { render_seconds: 10, images: 10 })).rejects.toMatchObject({
      details: { metric: 'images', limit: 50, used: 0, reserved: 45, requested: 10 },
    });
    expect(await counters(tenantId)).toEqual({
      render_seconds: { used: 0, reserved: 10 },
      images: { used: 0, reserved: 45 },
    });
  });

  it('when a single estimate is larger than the whole limit, then it is refused without a counter row', async () => {
    const tenantId = await insertTenant(env.db);
    await expect(reserve(env.db, tenantId, { render_seconds: 101 })).rejects.toBeInstanceOf(
      QuotaExceededError,
    );
    expect(await counters(tenantId)).toEqual({});
  });

  it('when the plan has overage or no limits, then submissions pass the included amount and are still reserved', async () => {
    for (const plan of ['pro', 'enterprise']) {
      const tenantId = await insertTenant(env.db, { plan });
      for (let i = 0; i < 3; i++) await reserve(env.db, tenantId, { render_seconds: 60 });
      expect(await counters(tenantId)).toEqual({ render_seconds: { used: 0, reserved: 180 } });
    }
  });

  it('when the plan changes in Postgres, then the next reservation uses the new limits at once', async () => {
    const tenantId = await insertTenant(env.db, { plan: 'pro' });
    await reserve(env.db, tenantId, { render_seconds: 150 });
    await env.db('tenants').where({ id: tenantId }).update({ plan: 'free' });
    await expect(reserve(env.db, tenantId, { render_seconds: 1 })).rejects.toBeInstanceOf(QuotaExceededError);
  });

  it('when a payment is past due beyond the 7-day grace, then free limits apply; within it, the paid plan', async () => {
    const within = await insertTenant(env.db, {
      plan: 'pro',
      columns: { subscription_status: 'past_due', past_due_since: new Date(Date.now() - 6 * 86_400_000) },
    });
    await reserve(env.db, within, { render_seconds: 150 });
    const beyond = await insertTenant(env.db, {
      plan: 'pro',
      columns: { subscription_status: 'past_due', past_due_since: new Date(Date.now() - 8 * 86_400_000) },
    });
    await expect(reserve(env.db, beyond, { render_seconds: 150 })).rejects.toMatchObject({
      details: { metric: 'render_seconds', limit: 100 },
    });
  });

  it('when stored outputs reach a hard storage limit, then output jobs are refused until storage is released', async () => {
    const tenantId = await insertTenant(env.db);
    const jobId = newId('job');
    await env.db.transaction((trx) =>
      recordUsage(trx, [{ tenantId, jobId, step: 'upload', metric: 'storage_bytes', quantity: 1000 }]),
    );
    const storage = present(
      await env
        .db('usage_counters')
        .where({ tenant_id: tenantId, period_start: STORAGE_PERIOD, metric: 'storage_bytes' })
        .first(),
    );
    expect(storage.used).toBe(1000);
    await expect(reserve(env.db, tenantId, { render_seconds: 1 })).rejects.toMatchObject({
      details: { metric: 'storage_bytes', limit: 1000, used: 1000 },
    });
    await releaseStorage(env.db, tenantId, 400);
    await reserve(env.db, tenantId, { render_seconds: 1 });
  });
});

describe('settle and release', () => {
  it('when a job succeeds, then its usage is counted once and the rest of its reservation is released', async () => {
    const tenantId = await insertTenant(env.db);
    const jobId = newId('job');
    await reserve(env.db, tenantId, { render_seconds: 30, tts_seconds: 20 }, jobId);
    const usage = [
      { tenantId, jobId, step: 'tts', metric: 'tts_seconds' as const, quantity: 18.5 },
      { tenantId, jobId, step: 'compose', metric: 'render_seconds' as const, quantity: 33.8 },
    ];
    await env.db.transaction((trx) => recordUsage(trx, usage));
    // While running: usage moved from reserved to used; the overrun is not reserved twice.
    expect(await counters(tenantId)).toEqual({
      render_seconds: { used: 33.8, reserved: 0 },
      tts_seconds: { used: 18.5, reserved: 1.5 },
    });
    // A retried step writes nothing again.
    expect(await env.db.transaction((trx) => recordUsage(trx, usage))).toEqual([]);
    await env.db.transaction((trx) => settle(trx, jobId));
    await env.db.transaction((trx) => settle(trx, jobId));
    expect(await counters(tenantId)).toEqual({
      render_seconds: { used: 33.8, reserved: 0 },
      tts_seconds: { used: 18.5, reserved: 0 },
    });
    expect(await env.db('job_reservations').where({ job_id: jobId }).first()).toMatchObject({
      outcome: 'settled',
    });
  });

  it('when a job fails or is canceled after some steps, then their usage stays and the rest is released', async () => {
    const tenantId = await insertTenant(env.db);
    const jobId = newId('job');
    await reserve(env.db, tenantId, { render_seconds: 30, tts_seconds: 20, images: 3 }, jobId);
    await env.db.transaction((trx) =>
      recordUsage(trx, [{ tenantId, jobId, step: 'tts', metric: 'tts_seconds', quantity: 19 }]),
    );
    await env.db.transaction((trx) => release(trx, jobId));
    expect(await counters(tenantId)).toEqual({
      render_seconds: { used: 0, reserved: 0 },
      tts_seconds: { used: 19, reserved: 0 },
      images: { used: 0, reserved: 0 },
    });
    // Repeating it (a retried failure handler) changes nothing.
    await env.db.transaction((trx) => release(trx, jobId));
    expect((await counters(tenantId)).tts_seconds).toEqual({ used: 19, reserved: 0 });
    expect(await env.db('job_reservations').where({ job_id: jobId }).first()).toMatchObject({
      outcome: 'released',
    });
  });

  it('when jobs ended without settling or vanished, then the sweeper releases their reservations and leaves open jobs alone', async () => {
    const tenantId = await insertTenant(env.db);
    const ended = newId('job');
    const open = newId('job');
    const orphan = newId('job');
    for (const [id, status] of [
      [ended, 'failed'],
      [open, 'running'],
    ] as const) {
      await env.db('jobs').insert({ id, tenant_id: tenantId, kind: 'render', status, payload: '{}' });
      await reserve(env.db, tenantId, { render_seconds: 10 }, id);
    }
    await reserve(env.db, tenantId, { render_seconds: 10 }, orphan);
    await env
      .db('job_reservations')
      .where({ job_id: orphan })
      .update({ created_at: new Date(Date.now() - 3_600_000) });

    expect(await sweepUnsettled(env.db)).toBe(2);
    expect(await sweepUnsettled(env.db)).toBe(0);
    expect(await counters(tenantId)).toEqual({ render_seconds: { used: 0, reserved: 10 } });
    const open_ = present(await env.db('job_reservations').where({ job_id: open }).first());
    expect(open_.settled_at).toBeNull();
  });
});
