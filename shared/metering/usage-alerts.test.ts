import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../ids/ids.ts';
import { createLogger } from '../logging/logger.ts';
import { createMailer, type Mailer } from '../mail/mailer.ts';
import { startSmtpSink } from '../testing/smtp-sink.ts';
import { insertTenant } from '../testing/tenant-fixture.ts';
import { createTestEnv, type TestEnv } from '../testing/test-env.ts';
import { parsePlanCatalogue } from './plans.ts';
import { checkUsageAlerts, type UsageAlertDeps } from './usage-alerts.ts';
import { recordUsage } from './usage-ledger.ts';

const plans = parsePlanCatalogue({
  free: {
    limits: { render_seconds: 100, tts_seconds: 100, images: 10, storage_bytes: null },
    max_resolution: '1080p',
    overage: false,
  },
  pro: {
    limits: { render_seconds: 100, tts_seconds: 100, images: 10, storage_bytes: null },
    max_resolution: '2160p',
    overage: true,
  },
});

let env: TestEnv;
let smtp: Awaited<ReturnType<typeof startSmtpSink>>;
let mailer: Mailer;
let deps: UsageAlertDeps;
beforeAll(async () => {
  env = await createTestEnv();
  smtp = await startSmtpSink();
  const logger = createLogger('silent', 'test');
  mailer = createMailer({ smtpUrl: smtp.url, from: 'test@rendermill.test', outboxDir: env.dir, logger });
  deps = { db: env.db, plans, mailer, logger, publicUrl: 'http://rendermill.test' };
});
afterAll(async () => {
  mailer.close();
  await smtp.close();
  await env.cleanup();
});

async function use(
  tenantId: string,
  quantity: number,
  metric: 'render_seconds' | 'images' = 'render_seconds',
) {
  await env.db.transaction((trx) =>
    recordUsage(trx, [{ tenantId, jobId: newId('job'), step: 'compose', metric, quantity }]),
  );
}

const mailsTo = (email: string) => smtp.mails.filter((m) => m.to.includes(email));

describe('usage alerts', () => {
  it('when a tenant crosses 80% and then 100% of a limit, then its owners get one mail for each, once', async () => {
    const tenantId = await insertTenant(env.db, { ownerEmail: 'owner-a@example.com' });
    await use(tenantId, 50);
    expect(await checkUsageAlerts(deps)).toEqual({ created: 0, sent: 0 });
    await use(tenantId, 35);
    expect(await checkUsageAlerts(deps)).toEqual({ created: 1, sent: 1 });
    expect(await checkUsageAlerts(deps)).toEqual({ created: 0, sent: 0 });
    await use(tenantId, 20);
    await Promise.all([checkUsageAlerts(deps), checkUsageAlerts(deps), checkUsageAlerts(deps)]);
    await checkUsageAlerts(deps);

    const mails = mailsTo('owner-a@example.com');
    expect(mails.map((m) => m.subject)).toEqual([
      'Rendermill: 80% of your rendered video (seconds) limit used',
      'Rendermill: 100% of your rendered video (seconds) limit used',
    ]);
    expect(mails[1]?.text).toContain('refused (402)');
    expect(await env.db('usage_alerts').where({ tenant_id: tenantId }).whereNull('sent_at')).toEqual([]);
  });

  it('when a pro tenant passes its included amount, then the mail says overage is billed', async () => {
    const tenantId = await insertTenant(env.db, { plan: 'pro', ownerEmail: 'owner-b@example.com' });
    await use(tenantId, 12, 'images');
    await checkUsageAlerts(deps);
    const mails = mailsTo('owner-b@example.com');
    expect(mails.map((m) => m.subject)).toEqual([
      'Rendermill: 80% of your images included amount used',
      'Rendermill: 100% of your images included amount used',
    ]);
    expect(mails[0]?.text).toContain('billed as overage');
  });

  it('when the mail server is down, then the alert stays pending and goes out on a later run', async () => {
    const tenantId = await insertTenant(env.db, { ownerEmail: 'owner-c@example.com' });
    await use(tenantId, 90);
    const broken: Mailer = { send: () => Promise.reject(new Error('ECONNREFUSED')), close: () => {} };
    expect(await checkUsageAlerts({ ...deps, mailer: broken })).toEqual({ created: 1, sent: 0 });
    expect(mailsTo('owner-c@example.com')).toEqual([]);
    expect(await checkUsageAlerts(deps)).toEqual({ created: 0, sent: 1 });
    expect(mailsTo('owner-c@example.com')).toHaveLength(1);
  });
});
