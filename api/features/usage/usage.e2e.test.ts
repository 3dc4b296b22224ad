import { rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../../shared/ids/ids.ts';
import { periodKey } from '../../../shared/metering/periods.ts';
import { recordUsage } from '../../../shared/metering/usage-ledger.ts';
import { present } from '../../../shared/testing/present.ts';
import { type SignIn, startTestApi, type TestApi } from '../../testing/api-harness.ts';

// Tiny limits: a 10-second render fits ten times into the free plan.
const PLANS = {
  free: {
    limits: { render_seconds: 100, tts_seconds: 1000, images: 1000, storage_bytes: null },
    max_resolution: '1080p',
    overage: false,
  },
  pro: {
    limits: { render_seconds: 200, tts_seconds: 1000, images: 1000, storage_bytes: null },
    max_resolution: '2160p',
    overage: true,
  },
};
const render = (resolution = '720p') => ({ scenes: [{ duration: 10, title: 'Card' }], resolution });

let t: TestApi;
let owner: SignIn;
let plansFile = '';
beforeAll(async () => {
  plansFile = path.join(os.tmpdir(), `plans-usage-${process.pid}.json`);
  await writeFile(plansFile, JSON.stringify(PLANS));
  // AUTH_CACHE_TTL_MS=0: plans are changed by hand in SQL below, behind the API's back.
  t = await startTestApi({
    AUTH_CACHE_TTL_MS: '0',
    PLANS_FILE: plansFile,
    RATE_LIMIT_PER_MINUTE: '100000',
    RATE_LIMIT_BURST_PER_SECOND: '10000',
  });
  owner = await t.signIn('owner@usage.example.com');
});
afterAll(async () => {
  await rm(plansFile, { force: true });
  await t.close();
});

async function ledger(tenantId: string, n: number, start = Date.now() - 3_600_000): Promise<string[]> {
  const jobId = newId('job');
  await t.env.db.transaction((trx) =>
    recordUsage(
      trx,
      Array.from({ length: n }, (_, i) => ({
        tenantId,
        jobId,
        step: `s${String(i).padStart(3, '0')}`,
        metric: 'images' as const,
        quantity: 1,
        occurredAt: new Date(start + i * 1000),
      })),
    ),
  );
  const rows = await t.env.db('usage_events').where({ job_id: jobId }).orderBy('occurred_at').select('id');
  return rows.map((r) => r.id);
}

describe('plans and usage', () => {
  it('when anyone asks for the plans, then the PLANS_FILE catalogue is listed without a token', async () => {
    const r = await t.call<{ data: Array<{ name: string; limits: Record<string, number> }> }>(
      'GET',
      '/v1/plans',
    );
    expect(r.status).toBe(200);
    expect(r.body.data.map((p) => p.name)).toEqual(['free', 'pro']);
    expect(r.body.data[0]?.limits.render_seconds).toBe(100);
    expect(r.text).not.toContain('stripe');
  });

  it('when a member reads usage, then each metric shows used, reserved, limit and remaining for this month', async () => {
    const tenant = await t.signIn('reader@usage.example.com');
    const submit = await t.call('POST', '/v1/renders', { token: tenant.access_token, body: render() });
    expect(submit.status).toBe(202);
    const r = await t.call<Record<string, never>>('GET', '/v1/usage', { token: tenant.access_token });
    expect(r.status).toBe(200);
    const start = `${periodKey(new Date())}T00:00:00.000Z`;
    expect(r.body).toMatchObject({
      period: { start },
      plan: 'free',
      overage: false,
      metrics: {
        render_seconds: { used: 0, reserved: 10, limit: 100, remaining: 90 },
        images: { used: 0, reserved: 1, limit: 1000, remaining: 999 },
        storage_bytes: { used: 0, reserved: 0, limit: null, remaining: null },
      },
    });
  });
});

describe('quota at submission', () => {
  it('when 50 renders are submitted at once against a limit that fits 10, then 10 are accepted and 40 answer 402 with the numbers', async () => {
    const tenant = await t.signIn('racer@usage.example.com');
    const answers = await Promise.all(
      Array.from({ length: 50 }, () =>
        t.call('POST', '/v1/renders', { token: tenant.access_token, body: render() }),
      ),
    );
    const accepted = answers.filter((a) => a.status === 202);
    const refused = answers.filter((a) => a.status === 402);
    expect(accepted).toHaveLength(10);
    expect(refused).toHaveLength(40);
    for (const a of refused) {
      expect(a.headers.get('content-type')).toContain('application/problem+json');
      expect(a.body).toMatchObject({
        code: 'quota_exceeded',
        metric: 'render_seconds',
        limit: 100,
        requested: 10,
      });
      expect((a.body.used as number) + (a.body.reserved as number)).toBeLessThanOrEqual(100);
      expect(a.body.resets_at).toMatch(/^\d{4}-\d{2}-01T00:00:00\.000Z$/);
    }
    // Nothing of a refused submission remains: 10 jobs, 10 reservations, 100 reserved.
    const tenantId = tenant.tenant.id;
    expect(await t.env.db('jobs').where({ tenant_id: tenantId }).count({ n: '*' })).toEqual([{ n: 10 }]);
    const counter = await t.env
      .db('usage_counters')
      .where({ tenant_id: tenantId, metric: 'render_seconds' })
      .first();
    expect(counter).toMatchObject({ used: 0, reserved: 100 });
  });

  it('when a free tenant asks for 2160p, then it gets 403 upgrade_required naming the feature and plan', async () => {
    const r = await t.call('POST', '/v1/renders', { token: owner.access_token, body: render('2160p') });
    expect(r.status).toBe(403);
    expect(r.body).toMatchObject({ code: 'upgrade_required', feature: 'resolution_2160p', plan: 'pro' });
    await t.env
      .db('tenants')
      .where({ id: owner.tenant.id })
      .update({ plan: 'pro', subscription_status: 'active' });
    try {
      expect(
        (await t.call('POST', '/v1/renders', { token: owner.access_token, body: render('2160p') })).status,
      ).toBe(202);
    } finally {
      await t.env
        .db('tenants')
        .where({ id: owner.tenant.id })
        .update({ plan: 'free', subscription_status: 'none' });
    }
  });
});

describe('the usage ledger', () => {
  it('when the ledger is longer than a page, then cursors walk it newest first without gaps and from/to filter it', async () => {
    const tenant = await t.signIn('ledger@usage.example.com');
    const ids = await ledger(tenant.tenant.id, 7);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const q: string = cursor ? `&cursor=${cursor}` : '';
      const r = await t.call<{ data: Array<{ id: string }>; next_cursor: string | null }>(
        'GET',
        `/v1/usage/events?limit=3${q}`,
        { token: tenant.access_token },
      );
      expect(r.status).toBe(200);
      seen.push(...r.body.data.map((e) => e.id));
      cursor = r.body.next_cursor;
    } while (cursor);
    expect(seen).toEqual([...ids].reverse());

    const rows = await t.env.db('usage_events').whereIn('id', ids).orderBy('occurred_at');
    const from = present(rows[2]).occurred_at.toISOString();
    const to = present(rows[5]).occurred_at.toISOString();
    const ranged = await t.call<{ data: Array<{ id: string; metric: string; quantity: number }> }>(
      'GET',
      `/v1/usage/events?from=${from}&to=${to}`,
      { token: tenant.access_token },
    );
    expect(ranged.body.data.map((e) => e.id)).toEqual(ids.slice(2, 5).reverse());
    expect(ranged.body.data[0]).toMatchObject({ metric: 'images', quantity: 1 });

    const bad = await t.call('GET', '/v1/usage/events?cursor=bm9wZQ', { token: tenant.access_token });
    expect(bad.status).toBe(400);
    expect(bad.body.errors).toEqual([{ path: '/cursor', message: 'not a cursor this API returned' }]);
    const badTime = await t.call('GET', '/v1/usage/events?from=yesterday', { token: tenant.access_token });
    expect(badTime.status).toBe(400);
    expect((badTime.body.errors as Array<{ path: string }>)[0]?.path).toBe('/from');
  });

  it('when a free tenant exports the ledger, then 403; on pro, then a CSV of every ledger row streams', async () => {
    const tenant = await t.signIn('export@usage.example.com');
    const ids = await ledger(tenant.tenant.id, 2500);
    const refused = await t.call('GET', '/v1/usage/export.csv', { token: tenant.access_token });
    expect(refused.status).toBe(403);
    expect(refused.body).toMatchObject({ code: 'upgrade_required', feature: 'usage_export', plan: 'pro' });

    await t.env
      .db('tenants')
      .where({ id: tenant.tenant.id })
      .update({ plan: 'pro', subscription_status: 'active' });
    const csv = await t.call('GET', '/v1/usage/export.csv', { token: tenant.access_token });
    expect(csv.status).toBe(200);
    expect(csv.headers.get('content-type')).toContain('text/csv');
    const lines = csv.text.trimEnd().split('\r\n');
    expect(lines[0]).toBe('id,occurred_at,job_id,step,metric,quantity,reported_at');
    expect(lines.slice(1).map((l) => l.split(',')[0])).toEqual(ids);
    expect(lines[1]).toMatch(/^evt_[\w-]+,\d{4}-\d{2}-\d{2}T[\d:.]+Z,job_[\w-]+,s000,images,1,$/);
  });

  it('when another tenant reads usage, then it sees only its own ledger', async () => {
    const other = await t.signIn('wall@usage.example.com');
    const r = await t.call<{ data: unknown[] }>('GET', '/v1/usage/events', { token: other.access_token });
    expect(r.body.data).toEqual([]);
  });
});
