import type { Knex } from 'knex';
import { ownerEmails, usageAlertMail } from '../billing/billing-mail.ts';
import type { Metric } from '../jobs/estimate.ts';
import type { Logger } from '../logging/logger.ts';
import type { Mailer } from '../mail/mailer.ts';
import { periodKey, periodOf, STORAGE_PERIOD } from './periods.ts';
import type { PlanCatalogue } from './plans.ts';
import { effectivePlanName, TENANT_BILLING_COLUMNS, type TenantBilling } from './tenant-plan.ts';

export const ALERT_THRESHOLDS = [80, 100] as const;

/** A threshold crossed for the first time this period. */
export interface UsageAlert {
  tenantId: string;
  metric: string;
  threshold: number;
  used: number;
  limit: number;
  /** The period's first day. */
  period: string;
}

export interface UsageAlertDeps {
  db: Knex;
  plans: PlanCatalogue;
  mailer: Mailer;
  logger: Logger;
  publicUrl: string;
  /** Runs for each new alert (the workers announce it as `usage.threshold_reached` and deliver its webhook). */
  onAlert?: (alert: UsageAlert) => Promise<void>;
  now?: Date;
}

interface CounterWithTenant extends TenantBilling {
  tenant_id: string;
  metric: Metric;
  used: number;
}

/**
 * Usage alerts, as an outbox. Detect: every counter touched in the last day is compared with
 * its tenant's current limit; each crossed threshold (80%, 100%) becomes a `usage_alerts` row,
 * unique per tenant, metric, period and threshold — the insert that wins is the one alert.
 * Deliver: pending rows are locked (SKIP LOCKED, so parallel runs split them), mailed to the
 * tenant's owners, then marked sent. Scheduled every minute as `usage.alert`.
 */
export async function checkUsageAlerts(deps: UsageAlertDeps): Promise<{ created: number; sent: number }> {
  const created = await detectAlerts(deps);
  const sent = await deliverAlerts(deps);
  return { created, sent };
}

async function detectAlerts(deps: UsageAlertDeps): Promise<number> {
  const { db, plans } = deps;
  const now = deps.now ?? new Date();
  const period = periodKey(now);
  const rows = (await db('usage_counters as c')
    .join('tenants as t', 't.id', 'c.tenant_id')
    .select('c.tenant_id', 'c.metric', 'c.used', ...TENANT_BILLING_COLUMNS.map((col) => `t.${col}`))
    .where((q) =>
      q
        .where('c.period_start', period)
        .orWhere({ 'c.period_start': STORAGE_PERIOD, 'c.metric': 'storage_bytes' }),
    )
    .where('c.updated_at', '>', new Date(now.getTime() - 86_400_000))
    .where('c.used', '>', 0)) as CounterWithTenant[];

  const candidates = rows.flatMap((r) => {
    const limit = plans.get(effectivePlanName(r, now)).limits[r.metric];
    if (limit === null || limit === undefined || limit <= 0) return [];
    return ALERT_THRESHOLDS.filter((t) => r.used >= (limit * t) / 100).map((threshold) => ({
      tenant_id: r.tenant_id,
      metric: r.metric,
      // Storage alerts also repeat monthly at most: the alert's period is the calendar month.
      period_start: period,
      threshold,
      used: r.used,
      limit,
    }));
  });
  if (candidates.length === 0) return 0;
  const inserted = await db('usage_alerts')
    .insert(candidates)
    .onConflict(['tenant_id', 'metric', 'period_start', 'threshold'])
    .ignore()
    .returning(['tenant_id', 'metric', 'threshold', 'used', 'limit']);
  for (const a of inserted) {
    await deps.onAlert?.({
      tenantId: a.tenant_id,
      metric: a.metric,
      threshold: a.threshold,
      used: a.used,
      limit: a.limit,
      period,
    });
  }
  return inserted.length;
}

async function deliverAlerts(deps: UsageAlertDeps): Promise<number> {
  const { db, plans, mailer, logger } = deps;
  let sent = 0;
  // Ascending id cursor: rows left pending in this run are not picked again by it.
  let lastId = 0;
  for (;;) {
    const batch = await db.transaction(async (trx) => {
      const alerts = (await trx('usage_alerts as a')
        .join('tenants as t', 't.id', 'a.tenant_id')
        .select('a.id', 'a.tenant_id', 'a.metric', 'a.threshold', 'a.used', 'a.limit', 't.plan')
        .select(trx.raw('a.period_start::text AS period_start'))
        .whereNull('a.sent_at')
        .where('a.id', '>', lastId)
        .orderBy('a.id')
        .limit(20)
        .forUpdate('a')
        .skipLocked()) as Array<{
        id: number;
        tenant_id: string;
        metric: string;
        threshold: number;
        used: number;
        limit: number;
        plan: string;
        period_start: string;
      }>;
      for (const a of alerts) {
        lastId = a.id;
        const resetsAt = periodOf(new Date(`${a.period_start}T00:00:00Z`)).end.toISOString();
        const owners = await ownerEmails(trx, a.tenant_id);
        let delivered = 0;
        for (const to of owners) {
          try {
            await mailer.send(
              usageAlertMail(to, {
                metric: a.metric,
                threshold: a.threshold,
                used: a.used,
                limit: a.limit,
                overage: plans.get(a.plan).overage,
                resetsAt,
                publicUrl: deps.publicUrl,
              }),
            );
            delivered += 1;
          } catch (err) {
            logger.warn({ err, tenant_id: a.tenant_id, alert_id: a.id }, 'usage alert mail failed');
          }
        }
        // Nobody reached (mail server down): stays pending for the next run. One bad address
        // among several does not make the others get it twice.
        if (owners.length > 0 && delivered === 0) continue;
        await trx('usage_alerts').where({ id: a.id }).update({ sent_at: trx.fn.now() });
        sent += 1;
      }
      return alerts.length;
    });
    if (batch < 20) return sent;
  }
}
