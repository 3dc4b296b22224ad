import { rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SignIn, startTestApi, type TestApi } from '../../../api/testing/api-harness.ts';

const PLANS = {
  free: {
    limits: { render_seconds: 60, tts_seconds: 600, images: 100, storage_bytes: null },
    max_resolution: '1080p',
    overage: false,
  },
  pro: {
    limits: { render_seconds: 20, tts_seconds: 1000, images: 1000, storage_bytes: null },
    max_resolution: '2160p',
    overage: true,
    overage_usd: { render_seconds: 0.01, images: 0.05 },
  },
};
const card = (duration: number, resolution = '720p') => ({
  scenes: [{ title: 'Card', duration }],
  resolution,
});

let t: TestApi;
let free: SignIn;
let plansFile = '';
beforeAll(async () => {
  plansFile = path.join(os.tmpdir(), `plans-estimate-${process.pid}.json`);
  await writeFile(plansFile, JSON.stringify(PLANS));
  t = await startTestApi({
    PLANS_FILE: plansFile,
    RATE_LIMIT_PER_MINUTE: '100000',
    RATE_LIMIT_BURST_PER_SECOND: '10000',
  });
  free = await t.signIn('estimate@example.com');
});
afterAll(async () => {
  await rm(plansFile, { force: true });
  await t.close();
});

const post = (s: SignIn, p: string, body: unknown) => t.call('POST', p, { token: s.access_token, body });
const rows = async (tenantId: string) => ({
  jobs: Number((await t.env.db('jobs').where({ tenant_id: tenantId }).count({ n: '*' }))[0]?.n),
  audit: Number(
    (await t.env.db('audit_log').where({ tenant_id: tenantId, action: 'job.submitted' }).count({ n: '*' }))[0]
      ?.n,
  ),
  reserved: Number(
    (await t.env.db('usage_counters').where({ tenant_id: tenantId }).sum({ r: 'reserved' }))[0]?.r ?? 0,
  ),
});

describe('POST /v1/renders/estimate', () => {
  it('when the job fits the plan, then it answers the quantities the submit books, the quota after it, 202, and creates nothing', async () => {
    const before = await rows(free.tenant.id);
    const e = await post(free, '/v1/renders/estimate', card(10));
    expect(e.status, e.text).toBe(200);
    expect(e.body).toMatchObject({ kind: 'render', submit: { status: 202, error: null } });
    expect(e.body.quantities).toEqual({ images: 1, render_seconds: 10 });
    expect((e.body.quota_after as Record<string, unknown>).render_seconds).toEqual({
      limit: 60,
      used: 0,
      reserved: 0,
      requested: 10,
      remaining: 50,
    });
    expect(e.body.price).toMatchObject({ currency: 'usd', plan: 'free', total_usd: 0 });
    expect(await rows(free.tenant.id)).toEqual(before);

    // the real submit books exactly those quantities
    const real = await post(free, '/v1/renders', card(10));
    expect(real.status).toBe(202);
    expect(real.body.estimate).toMatchObject(e.body.quantities as object);
  });

  it('when the job is past a hard limit or needs a better plan, then it answers the 402 or 403 the submit answers', async () => {
    const e = await post(free, '/v1/renders/estimate', card(100));
    expect(e.status).toBe(200);
    const submit = e.body.submit as { status: number; error: Record<string, unknown> };
    expect(submit.status).toBe(402);
    const real = await post(free, '/v1/renders', card(100));
    expect(real.status).toBe(402);
    for (const k of ['code', 'metric', 'limit', 'used', 'reserved', 'requested', 'resets_at']) {
      expect(submit.error[k], k).toEqual(real.body[k]);
    }
    expect(
      (e.body.quota_after as Record<string, { remaining: number }>).render_seconds?.remaining,
    ).toBeLessThan(0);

    const big = await post(free, '/v1/renders/estimate', card(1, '2160p'));
    expect((big.body.submit as { status: number; error: { code: string } }).status).toBe(403);
    expect((big.body.submit as { error: { code: string } }).error.code).toBe('upgrade_required');
    expect((await post(free, '/v1/renders', card(1, '2160p'))).status).toBe(403);
  });

  it('when a pro tenant goes past its included amount, then the overage is priced at the plan rate', async () => {
    const pro = await t.signIn('estimate-pro@example.com');
    await t.env.db('tenants').where({ id: pro.tenant.id }).update({ plan: 'pro' });
    const e = await post(pro, '/v1/renders/estimate', card(30));
    expect(e.body.submit).toEqual({ status: 202, error: null });
    const price = e.body.price as { total_usd: number; lines: Array<Record<string, unknown>> };
    expect(price.lines.find((l) => l.metric === 'render_seconds')).toEqual({
      metric: 'render_seconds',
      quantity: 30,
      included: 20,
      overage: 10,
      unit_price_usd: 0.01,
      amount_usd: 0.1,
    });
    expect(price.total_usd).toBe(0.1);
    // tts and images estimates take their own bodies
    const tts = await post(pro, '/v1/tts/estimate', { text: 'Hello there.' });
    expect(tts.status).toBe(200);
    expect(Object.keys(tts.body.quantities as object)).toEqual(['tts_seconds']);
    const img = await post(pro, '/v1/images/estimate', { title: 'x' });
    expect(img.body.quantities).toEqual({ images: 1 });
  });

  it('when the body is invalid, then 400 names the field like the submit', async () => {
    const e = await post(free, '/v1/renders/estimate', { scenes: [], resolution: '999p' });
    expect(e.status).toBe(400);
    expect((e.body.errors as Array<{ path: string }>).map((x) => x.path)).toContain('/resolution');
  });
});
