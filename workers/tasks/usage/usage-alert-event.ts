import { newEvent } from '../../../shared/events/event-stream.ts';
import type { UsageAlert } from '../../../shared/metering/usage-alerts.ts';
import { endpointFor, recordDelivery } from '../../../shared/webhooks/deliveries.ts';
import type { WorkerServices } from '../../jobs/services.ts';

/**
 * A new usage alert as a `usage.threshold_reached` event: a pending delivery to the tenant's
 * endpoint (when it takes the type), then the stream announcement and the enqueue. A lost
 * enqueue is picked up by the reconciler like any pending delivery.
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
  await services.events.publish(alert.tenantId, event);
  if (deliveryId) {
    await services.producer
      .enqueueCallback({ deliveryId, tenantId: alert.tenantId })
      .catch((err: unknown) =>
        services.logger.warn({ err }, 'usage alert webhook enqueue failed; reconciler will retry'),
      );
  }
}
