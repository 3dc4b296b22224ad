import { newEvent } from '../../../shared/events/event-stream.ts';
import type { UsageAlert } from '../../../shared/metering/usage-alerts.ts';
import { announceNotifications, notify } from '../../../shared/notifications/notify.ts';
import { endpointFor, recordDelivery } from '../../../shared/webhooks/deliveries.ts';
import type { WorkerServices } from '../../jobs/services.ts';

/**
 * A new usage alert as a `usage.threshold_reached` event: a pending delivery to the tenant's
 * endpoint (when it takes the type), the admins' notification (80 % and 100 %, each once per
 * period, like the mail), then the stream announcement and the enqueue. A lost enqueue is picked
 * up by the reconciler like any pending delivery.
 */
export async function announceUsageAlert(services: WorkerServices, alert: UsageAlert): Promise<void> {
  const event = newEvent('usage.threshold_reached', {
    usage: {
      metric: alert.metric,
      threshold: alert.threshold,
      used: alert.used,
      limit: alert.limit,
      period: alert.period,
    },
  });
  const url = await endpointFor(services.db, alert.tenantId, event.type);
  const deliveryId = url
    ? await recordDelivery(services.db, { tenantId: alert.tenantId, jobId: null, url, event })
    : null;
  const pct = alert.threshold;
  const notified = await notify(services.db, {
    tenantId: alert.tenantId,
    type: 'usage.threshold_reached',
    title: `${pct} % of your ${alert.metric.replaceAll('_', ' ')} quota used`,
    body:
      pct >= 100
        ? `You have used ${alert.used} of ${alert.limit} this period. Upgrade to keep rendering.`
        : `You have used ${alert.used} of ${alert.limit} this period.`,
    link: '/usage',
    targetType: 'metric',
    targetId: alert.metric,
    dedupeKey: `usage:${alert.metric}:${pct}:${alert.period}`,
    audience: 'admins',
  });
  await services.events.publish(alert.tenantId, event);
  if (notified > 0) await announceNotifications(services.events, alert.tenantId, 'usage.threshold_reached');
  if (deliveryId) {
    await services.producer
      .enqueueCallback({ deliveryId, tenantId: alert.tenantId })
      .catch((err: unknown) =>
        services.logger.warn({ err }, 'usage alert webhook enqueue failed; reconciler will retry'),
      );
  }
}
