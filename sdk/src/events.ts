import type { Http } from './http.ts';
import { parseSse } from './sse.ts';
import type { EventType, StreamedEvent } from './types.ts';

export interface StreamOptions {
  /** Resume after this stream id (a previous event's `streamId`). Default: from now on. */
  since?: string;
  types?: EventType[];
  jobId?: string;
  signal?: AbortSignal;
  /** Reconnect after a dropped connection (with the last id, so nothing kept is lost). Default true. */
  reconnect?: boolean;
  /** Called each time the stream is connected: events written from then on are delivered. */
  onOpen?: () => void;
}

/**
 * `GET /v1/events` as an async iterator. A dropped connection is resumed from the last id seen
 * (the server keeps 24 h); stop with `break` or the signal.
 */
export async function* streamEvents(http: Http, opts: StreamOptions = {}): AsyncGenerator<StreamedEvent> {
  let last = opts.since;
  let failures = 0;
  for (;;) {
    const res = await http.send('GET', '/v1/events', {
      query: { types: opts.types?.join(','), job_id: opts.jobId, since: last },
      headers: { accept: 'text/event-stream' },
      signal: opts.signal,
      stream: true,
    });
    if (!res.body) throw new Error('event stream without a body');
    opts.onOpen?.();
    try {
      for await (const m of parseSse(res.body)) {
        failures = 0;
        if (m.id) last = m.id;
        if (!m.data) continue;
        yield {
          ...(JSON.parse(m.data) as Omit<StreamedEvent, 'streamId'>),
          streamId: m.id ?? '',
        } as StreamedEvent;
      }
    } catch (err) {
      if (opts.signal?.aborted) return;
      failures += 1;
      if (opts.reconnect === false || failures > 5) throw err;
    }
    if (opts.signal?.aborted || opts.reconnect === false) return;
    await new Promise((r) => setTimeout(r, Math.min(5_000, 250 * 2 ** failures)));
  }
}
