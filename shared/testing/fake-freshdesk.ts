import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local server speaking the two Freshdesk API v2 endpoints support delivery uses:
 * `POST /api/v2/tickets` and `GET /api/v2/tickets?email=&updated_since=`. Basic auth with the
 * API key as user name is checked. Faults are scripted per create call, in order.
 */
export type CreateFault =
  /** Answers 500 without creating anything. */
  | { kind: 'fail'; status: number; retryAfter?: string; body?: string }
  /** Creates the ticket, then answers 500 (a proxy error after the write). */
  | { kind: 'create-then-fail' }
  /** Creates the ticket, then drops the connection without an answer. */
  | { kind: 'create-then-drop' };

export interface FakeTicket {
  id: number;
  email: string;
  subject: string;
  description: string;
  tags: string[];
  status: number;
  priority: number;
  created_at: string;
  updated_at: string;
}

export interface FakeFreshdesk {
  url: string;
  apiKey: string;
  tickets: FakeTicket[];
  /** Every request, with when it arrived. */
  requests: Array<{ method: string; path: string; at: number; authorized: boolean }>;
  faults: CreateFault[];
  close(): Promise<void>;
}

export async function startFakeFreshdesk(apiKey = 'fd_test_key'): Promise<FakeFreshdesk> {
  const tickets: FakeTicket[] = [];
  const requests: FakeFreshdesk['requests'] = [];
  const faults: CreateFault[] = [];
  let nextId = 1000;
  const expectedAuth = `Basic ${Buffer.from(`${apiKey}:X`).toString('base64')}`;

  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => {
      raw += c;
    });
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://fake');
      const authorized = req.headers.authorization === expectedAuth;
      requests.push({ method: req.method ?? '', path: url.pathname, at: Date.now(), authorized });
      const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
        res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
      if (!authorized) return json(401, { code: 'invalid_credentials', message: 'You have to be logged in' });
      if (url.pathname !== '/api/v2/tickets') return json(404, { message: 'not found' });

      if (req.method === 'GET') {
        const email = url.searchParams.get('email');
        const since = Date.parse(url.searchParams.get('updated_since') ?? '1970-01-01T00:00:00Z');
        return json(
          200,
          tickets.filter((t) => (!email || t.email === email) && Date.parse(t.updated_at) >= since),
        );
      }
      if (req.method !== 'POST') return json(405, { message: 'method not allowed' });
      let body: Partial<FakeTicket>;
      try {
        body = JSON.parse(raw) as Partial<FakeTicket>;
      } catch {
        return json(400, {
          description: 'Validation failed',
          errors: [{ field: 'body', message: 'not JSON' }],
        });
      }
      const fault = faults.shift();
      if (fault?.kind === 'fail') {
        return json(
          fault.status,
          { message: fault.body ?? 'injected failure' },
          fault.retryAfter ? { 'retry-after': fault.retryAfter } : {},
        );
      }
      if (!body.email || !body.subject || !body.description) {
        return json(400, {
          description: 'Validation failed',
          errors: [{ field: 'email', code: 'missing_field' }],
        });
      }
      const now = new Date().toISOString();
      const ticket: FakeTicket = {
        id: nextId++,
        email: body.email,
        subject: body.subject,
        description: body.description,
        tags: body.tags ?? [],
        status: body.status ?? 2,
        priority: body.priority ?? 1,
        created_at: now,
        updated_at: now,
      };
      tickets.push(ticket);
      if (fault?.kind === 'create-then-fail') return json(502, { message: 'bad gateway' });
      if (fault?.kind === 'create-then-drop') return req.socket.destroy();
      return json(201, ticket);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    apiKey,
    tickets,
    requests,
    faults,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
