import type { Rendermill } from '../client.ts';
import type { EventType, WebhookSecret } from '../types.ts';
import { sign } from '../webhooks.ts';
import type { Output } from './output.ts';

/**
 * `rendermill listen --forward-to URL`: the tenant's event stream, each event POSTed to a local
 * URL exactly as a webhook would arrive (same body, same Standard Webhooks headers, signed with
 * the tenant's secret), like `stripe listen --forward-to`. The receiver's answer is printed; a
 * failing receiver does not stop the stream.
 */
export async function listen(
  rm: Rendermill,
  out: Output,
  opts: { forwardTo: string; types?: EventType[]; signal: AbortSignal },
): Promise<void> {
  const { secret } = await rm.http.json<WebhookSecret>('GET', '/v1/webhook-secret');
  const target = new URL(opts.forwardTo);
  const stream = rm.events.stream({
    types: opts.types,
    signal: opts.signal,
    onOpen: () =>
      out.note(
        { type: 'listen.ready', forward_to: target.href },
        `Ready: forwarding events to ${target.href} (Ctrl-C to stop)`,
      ),
  });
  for await (const { streamId: _id, ...event } of stream) {
    const body = JSON.stringify(event);
    const timestamp = Math.floor(Date.now() / 1000);
    const started = Date.now();
    let status: number | null = null;
    let error: string | null = null;
    try {
      const res = await fetch(target, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'webhook-id': event.id,
          'webhook-timestamp': String(timestamp),
          'webhook-signature': await sign(secret, event.id, timestamp, body),
        },
        body,
        signal: opts.signal,
      });
      status = res.status;
      await res.body?.cancel();
    } catch (err) {
      if (opts.signal.aborted) return;
      error = (err as Error).message;
    }
    const ms = Date.now() - started;
    out.note(
      { type: 'listen.forwarded', event: event.type, event_id: event.id, status, error, latency_ms: ms },
      `${new Date().toISOString()}  ${event.type.padEnd(22)} ${event.id}  → ${status ?? `failed: ${error}`} (${ms} ms)`,
    );
  }
}
