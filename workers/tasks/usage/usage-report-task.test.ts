import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStripeClient } from '../../../shared/billing/stripe-client.ts';
import { newId } from '../../../shared/ids/ids.ts';
import { createLogger } from '../../../shared/logging/logger.ts';
import type { Mail } from '../../../shared/mail/mailer.ts';
import { parsePlanCatalogue } from '../../../shared/metering/plans.ts';
import { recordUsage } from '../../../shared/metering/usage-ledger.ts';
import { createMetrics } from '../../../shared/metrics/metrics.ts';
import { type FakeStripe, startFakeStripe } from '../../../shared/testing/fake-stripe.ts';
import { insertTenant } from '../../../shared/testing/tenant-fixture.ts';
import { createTestEnv, type TestEnv } from '../../../shared/testing/test-env.ts';
import { sweepReservations } from './reservations-sweep-task.ts';
import { runUsageAlerts } from './usage-alert-task.ts';
import { runUsageReport } from './usage-report-task.ts';

let env: TestEnv;
let fake: FakeStripe;
let deps: Parameters<typeof runUsageReport>[0] & Parameters<typeof runUsageAlerts>[0];
const mails: Mail[] = [];

beforeAll(async () => {
  env = await createTestEnv();
  fake = await startFakeStripe();
  deps = {
    db: env.db,
    stripe: createStripeClient({ secretKey: 'sk_test_fake', apiUrl: fake.url, maxNetworkRetries: 0 }),
    plans: parsePlanCatalogue({
      free: {
        limits: { render_seconds: 500, tts_seconds: 500, images: 500, storage_bytes: null },
        max_resolution: '1080p',
        overage: false,
      },
    }),
    mailer: { send: async (m) => void mails.push(m), close: () => {} },
    logger: createLogger('silent', 'test'),
    metrics: createMetrics('worker'),
    publicUrl: 'http://rendermill.test',
  };
});
afterAll(async () => {
  await fake.close();
  await env.cleanup();
});

describe('usage.report, usage.alert, reservations.sweep', () => {
  it('when a backlog spans several batches, then one run of each reports it all, mails the alert and sweeps ended jobs', async () => {
    const tenantId = await insertTenant(env.db, {
      ownerEmail: 'owner@report.example.com',
      columns: { stripe_customer_id: 'cus_report' },
    });
    const jobId = newId('job');
    await env
      .db('jobs')
      .insert({ id: jobId, tenant_id: tenantId, kind: 'image', status: 'failed', payload: '{}' });
    await env
      .db('job_reservations')
      .insert({ job_id: jobId, tenant_id: tenantId, period_start: '2026-11-01', amounts: '{}' });
    await env.db.transaction((trx) =>
      recordUsage(
        trx,
        Array.from({ length: 450 }, (_, i) => ({
          tenantId,
          jobId: newId('job'),
          step: 'image',
          metric: 'images' as const,
          quantity: 1,
          occurredAt: new Date(Date.now() - i),
        })),
      ),
    );
    const run = async () => ({
      report: await runUsageReport(deps),
      alerts: await runUsageAlerts(deps),
      swept: await sweepReservations(deps),
    });
    const r = await run();
    expect(r.report).toMatchObject({ active: true, delivered: 450, deferred: 0 });
    expect(fake.meterEvents).toHaveLength(450);
    expect(r.alerts).toEqual({ created: 1, sent: 1 });
    expect(mails.map((m) => m.subject)).toEqual(['Rendermill: 80% of your images limit used']);
    expect(r.swept).toBe(1);
    expect(await run()).toMatchObject({
      report: { delivered: 0 },
      alerts: { created: 0, sent: 0 },
      swept: 0,
    });
  });
});
