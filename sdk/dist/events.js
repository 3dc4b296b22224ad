import { parseSse } from './sse.js';
/**
 * `GET /v1/events` as an async iterator. A dropped connection is resumed from the last id seen
 * (the server keeps 24 h); stop with `break` or the signal.
 */
export async function* streamEvents(http, opts = {}) {
  let last = opts.since;
  let failures = 0;
  for (;;) {
    const res = await http.send('GET', '/v1/events', {
      query: { types: opts.types?.join(','), job_id: opts.jobId, since: last },
      headers: { accept: 'text/event-stream' },
      signal: opts.signal,
    });
    if (!res.body) throw new Error('event stream without a body');
    try {
      for await (const m of parseSse(res.body)) {
        failures = 0;
        if (m.id) last = m.id;
        if (!m.data) continue;
        yield {
          ...JSON.parse(m.data),
          streamId: m.id ?? '',
        };
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
