import { describe, expect, expectTypeOf, it } from 'vitest';
import { EVENT_TYPES } from '../../shared/events/event-types.ts';
import type { EventType, RendermillEvent } from '../src/index.ts';

/**
 * The stream's event payloads are not in the OpenAPI document (it types the stream as text), so the
 * SDK's event union is written by hand; this keeps it in step with the server's catalogue.
 */
describe('SDK event types', () => {
  it('when the server adds or drops an event type, then the SDK union must follow', () => {
    type Server = (typeof EVENT_TYPES)[number];
    expectTypeOf<EventType>().toEqualTypeOf<Server>();
    expectTypeOf<RendermillEvent['type']>().toEqualTypeOf<Server>();
    // The same at run time, so the check also fails under a transpile-only run.
    const sdkTypes: Record<EventType, true> = {
      'job.queued': true,
      'job.started': true,
      'job.step.started': true,
      'job.step.succeeded': true,
      'job.progress': true,
      'job.succeeded': true,
      'job.failed': true,
      'job.canceled': true,
      'usage.threshold_reached': true,
      'billing.subscription_updated': true,
      'notification.created': true,
      'webhook.test': true,
    };
    expect(Object.keys(sdkTypes).sort()).toEqual([...EVENT_TYPES].sort());
  });
});
