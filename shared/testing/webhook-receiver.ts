import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request the receiver got, as sent (the raw body, for signature checks). */
export interface ReceivedRequest {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface WebhookReceiver {
  /** `http://127.0.0.1:<port>` (no trailing slash). */
  url: string;
  /** Every request so far, in arrival order (not the ones `answer` refuses to record). */
  received: ReceivedRequest[];
  close(): Promise<void>;
}

/**
 * A local HTTP server standing in for a client's webhook endpoint. `answer` picks each reply
 * (default 200 "ok"); returning `record: false` leaves the request out of `received` (a scene
 * image the API fetches, say).
 */
export async function startWebhookReceiver(
  answer: (r: ReceivedRequest) => { status: number; body?: string; record?: boolean } = () => ({
    status: 200,
  }),
): Promise<WebhookReceiver> {
  const received: ReceivedRequest[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      const r = { path: req.url ?? '', headers: req.headers, body };
      const a = answer(r);
      if (a.record !== false) received.push(r);
      res.writeHead(a.status, { 'content-type': 'text/plain' }).end(a.body ?? 'ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
