import { checkUsageAlerts, type UsageAlertDeps } from '../../../shared/metering/usage-alerts.ts';

/**
 * usage.alert — scheduled every minute: detects and mails usage alerts (80% / 100%), once per
 * tenant, metric, period and threshold; each new alert also goes to `onAlert` (the workers
 * announce it as a `usage.threshold_reached` event). Safe to run concurrently with itself and
 * to repeat after a crash (see `checkUsageAlerts`).
 */
export async function runUsageAlerts(deps: UsageAlertDeps): Promise<{ created: number; sent: number }> {
  const alerts = await checkUsageAlerts(deps);
  if (alerts.created + alerts.sent > 0) deps.logger.info(alerts, 'usage alerts');
  return alerts;
}
