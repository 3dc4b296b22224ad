import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { newId } from '../ids/ids.ts';
import { createLogger } from '../logging/logger.ts';
import { loadPlanCatalogue } from '../metering/plans.ts';
import { recordUsage, type UsageRecord } from '../metering/usage-ledger.ts';
import { createMetrics } from '../metrics/metrics.ts';
import { type FakeStripe, startFakeStripe } from '../testing/fake-stripe.ts';
import { present } from '../testing/present.ts';
import { insertTenant } from '../testing/tenant-fixture.ts';
import { createTestEnv, type TestEnv } from '../testing/test-env.ts';
import { createStripeClient, type Stripe } from './stripe-client.ts';
import { reportUsageBatch, type UsageReporterDeps } from './usage-reporter.ts';

let env: TestEnv;
let fake: FakeStripe;
let stripe: Stripe;
let deps: UsageReporterDeps;
const metrics = createMetrics('worker');

beforeAll(async () => {
  env = await createTestEnv();
  fake = await startFakeStripe();
  stripe = createStripeClient({
    secretKey: 'sk_test_fake',
    apiUrl: fake.url,
    maxNetworkRetries: 0,
    timeoutMs: 300,
  })!;
  deps = { db: env.db, stripe, plans: loadPlanCatalogue(), logger: createLogger('silent', 'test'), metrics };
});
afterAll(async () => {
  await fake.close();
  await env.cleanup();
});
beforeEach(async () => {
  fake.clearFaults();
  // Each test starts with an empty backlog: earlier tests' rows are closed.
  await env.db('usage_events').whereNull('reported_at').update({ reported_at: env.db.fn.now() });
});

async function billedTenant(): Promise<{ tenantId: string; customer: string }> {
  const customer = `cus_${newId('ten').slice(4)}`;
  const tenantId = await insertTenant(env.db, { plan: 'pro', columns: { stripe_customer_id: customer } });
  return { tenantId, customer };
}

async function ledger(tenantId: string, n: number, quantity = 33.8): Promise<string[]> {
  const jobId = newId('job');
  const records: UsageRecord[] = Array.from({ length: n }, (_, i) => ({
    tenantId,
    jobId,
    step: `step${i}`,
    metric: 'render_seconds',
    quantity,
    occurredAt: new Date(Date.now() - 60_000 + i),
  }));
  await env.db.transaction((trx) => recordUsage(trx, records));
  const rows = await env.db('usage_events').where({ job_id: jobId }).orderBy('occurred_at').select('id');
  return rows.map((r) => r.id);
}

function eventsFor(ids: string[]) {
  return fake.meterEvents.filter((e) => ids.includes(e.identifier));
}

async function unreported(ids: string[]): Promise<number> {
  const [{ n }] = (await env
    .db('usage_events')
    .whereIn('id', ids)
    .whereNull('reported_at')
    .count({ n: '*' })) as [{ n: number }];
  return n;
}

describe('usage reporter', () => {
  it('when ledger rows are pending, then each is sent once as a meter event with our id, an integer value and its time', async () => {
    const { tenantId, customer } = await billedTenant();
    const ids = await ledger(tenantId, 3);
    const freeTenant = await insertTenant(env.db);
    const unbilled = await ledger(freeTenant, 1);

    expect(await reportUsageBatch(deps)).toMatchObject({
      active: true,
      delivered: 3,
      duplicates: 0,
      deferred: 0,
    });
    expect(await reportUsageBatch(deps)).toMatchObject({ delivered: 0 });
    const events = eventsFor(ids);
    expect(events.map((e) => e.identifier).sort()).toEqual([...ids].sort());
    const row = present(await env.db('usage_events').where({ id: ids[0] }).first());
    expect(events.find((e) => e.identifier === ids[0])).toEqual({
      event_name: 'rendermill_render_seconds',
      identifier: ids[0],
      timestamp: Math.floor(row.occurred_at.getTime() / 1000),
      payload: { stripe_customer_id: customer, value: '34' },
    });
    expect(row.report_outcome).toBe('delivered');
    // A tenant without a Stripe customer stays in the local ledger.
    expect(await unreported(unbilled)).toBe(1);
    expect(eventsFor(unbilled)).toEqual([]);
    expect((await metrics.unreportedUsageAge.get()).values[0]?.value).toBe(0);
  });

  it('when Stripe already has an identifier, then its 400 counts as delivered', async () => {
    const { tenantId, customer } = await billedTenant();
    const [id] = (await ledger(tenantId, 1)) as [string];
    await stripe.billing.meterEvents.create({
      event_name: 'rendermill_render_seconds',
      payload: { stripe_customer_id: customer, value: '34' },
      identifier: id,
    });
    expect(await reportUsageBatch(deps)).toMatchObject({ delivered: 0, duplicates: 1, deferred: 0 });
    expect(await env.db('usage_events').where({ id }).first()).toMatchObject({ report_outcome: 'duplicate' });
    expect(eventsFor([id])).toHaveLength(1);
  });

  it('when Stripe answers 500, 429 or hangs, then rows wait with backoff and all go out once it recovers', async () => {
    const { tenantId } = await billedTenant();
    const ids = await ledger(tenantId, 4);
    const failures: Array<() => void> = [
      () => fake.failNext(1, 500),
      () => fake.failNext(1, 429),
      () => fake.hangNext(1),
    ];
    for (const fail of failures) {
      fail();
      const r = await reportUsageBatch({ ...deps, concurrency: 1 });
      expect(r.deferred).toBe(1);
      // The run stopped at the first failure: nothing after it was attempted.
      expect(r.delivered).toBe(0);
    }
    expect(await unreported(ids)).toBe(4);
    const deferred = await env.db('usage_events').whereIn('id', ids).whereNotNull('report_after');
    expect(deferred.length).toBe(3);
    for (const d of deferred) {
      expect(d.report_attempts).toBe(1);
      expect(present(d.report_after).getTime()).toBeGreaterThan(Date.now());
      expect(d.report_error).toMatch(/^(500|429|network)/);
    }
    expect((await metrics.unreportedUsageAge.get()).values[0]?.value).toBeGreaterThan(30);

    // Backoff elapsed; Stripe is healthy again.
    await env
      .db('usage_events')
      .whereIn('id', ids)
      .update({ report_after: new Date(Date.now() - 1000) });
    expect(await reportUsageBatch(deps)).toMatchObject({ delivered: 4, deferred: 0 });
    expect(await unreported(ids)).toBe(0);
    expect(
      eventsFor(ids)
        .map((e) => e.identifier)
        .sort(),
    ).toEqual([...ids].sort());
    expect((await metrics.unreportedUsageAge.get()).values[0]?.value).toBe(0);
  });

  it('when the process dies between send and mark, then the resend is answered as a duplicate and nothing is billed twice', async () => {
    const { tenantId } = await billedTenant();
    const ids = await ledger(tenantId, 5);
    await expect(
      reportUsageBatch({
        ...deps,
        afterSend: () => {
          throw new Error('SIGKILL between send and mark');
        },
      }),
    ).rejects.toThrow('SIGKILL');
    expect(eventsFor(ids)).toHaveLength(5);
    expect(await unreported(ids)).toBe(5);

    expect(await reportUsageBatch(deps)).toMatchObject({ delivered: 0, duplicates: 5 });
    expect(await unreported(ids)).toBe(0);
    expect(eventsFor(ids)).toHaveLength(5);
    const sent = fake.requests.filter(
      (r) => r.path === '/v1/billing/meter_events' && ids.includes(String(r.body.identifier)),
    );
    expect(sent).toHaveLength(10); // each identifier twice on the wire, once in Stripe
  });

  it('when several reporters run at once, then each row is sent by one of them', async () => {
    const { tenantId } = await billedTenant();
    const ids = await ledger(tenantId, 40);
    const before = fake.requests.length;
    const runs = await Promise.all([1, 2, 3].map(() => reportUsageBatch({ ...deps, batchSize: 15 })));
    const more = await reportUsageBatch(deps);
    expect(runs.reduce((n, r) => n + r.delivered, 0) + more.delivered).toBe(40);
    expect(fake.requests.length - before).toBe(40);
    expect(eventsFor(ids)).toHaveLength(40);
  });

  it('when a metric has no meter or there is no Stripe key, then nothing is sent', async () => {
    const { tenantId } = await billedTenant();
    await env.db.transaction((trx) =>
      recordUsage(trx, [
        { tenantId, jobId: newId('job'), step: 'upload', metric: 'storage_bytes', quantity: 1000 },
      ]),
    );
    expect(await reportUsageBatch({ ...deps, stripe: null })).toMatchObject({ active: false, delivered: 0 });
    expect(await reportUsageBatch(deps)).toMatchObject({ skipped: 1, delivered: 0 });
    const row = present(
      await env.db('usage_events').where({ tenant_id: tenantId, metric: 'storage_bytes' }).first(),
    );
    expect(row.report_outcome).toBe('not_metered');
  });
});
