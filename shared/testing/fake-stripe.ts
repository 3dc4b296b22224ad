import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { stripeWebhooks } from '../billing/stripe-client.ts';

export interface RecordedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  body: Record<string, unknown>;
  headers: http.IncomingHttpHeaders;
}

export interface FakeInvoice {
  id: string;
  customer: string;
  status: string;
  number: string | null;
  amount_due: number;
  amount_paid: number;
  currency: string;
  created: number;
  period_start: number;
  period_end: number;
  hosted_invoice_url: string | null;
  invoice_pdf: string | null;
}

type Fault = { kind: 'status'; status: number; path?: string } | { kind: 'hang'; path?: string };

/**
 * A local stand-in for api.stripe.com speaking the endpoints Rendermill uses, with the
 * form-encoded bodies the real SDK sends. Point the SDK at it with STRIPE_API_URL. It records
 * every request, answers 400 for a meter event whose identifier it already accepted (as Stripe
 * does), replays responses for a repeated Idempotency-Key, and can fail or hang on demand.
 */
export interface FakeStripe {
  url: string;
  requests: RecordedRequest[];
  /** Meter events accepted (one per identifier), in arrival order. */
  meterEvents: Array<{
    event_name: string;
    identifier: string;
    timestamp: number;
    payload: Record<string, string>;
  }>;
  customers: Map<string, Record<string, unknown>>;
  invoices: FakeInvoice[];
  /** Checkout sessions created, by id (as sent, plus id/url/status). */
  sessions: Map<string, Record<string, unknown>>;
  /**
   * What Stripe does when the customer pays (or starts the trial of) a Checkout session: the
   * session becomes `complete` and a subscription exists, `trialing` until `trial_end` when the
   * session asked for `subscription_data[trial_period_days]`, else `active`. Returns both objects
   * as webhooks show them (period end on the items).
   */
  completeCheckout(sessionId: string): {
    session: Record<string, unknown>;
    subscription: Record<string, unknown>;
  };
  /** The next `n` requests (to paths starting with `path`, if given) answer `status`. */
  failNext(n: number, status?: number, path?: string): void;
  /** The next `n` requests (matching `path`) never get an answer (the client times out). */
  hangNext(n: number, path?: string): void;
  /** From now on each request fails with `status` with probability `fraction` (0 turns it off). */
  failRandomly(fraction: number, status?: number): void;
  /** Meter-event requests answered 400 because the identifier was already accepted (resends). */
  duplicateMeterEvents(): number;
  clearFaults(): void;
  close(): Promise<void>;
}

export async function startFakeStripe(): Promise<FakeStripe> {
  const requests: RecordedRequest[] = [];
  const meterEvents: FakeStripe['meterEvents'] = [];
  const seenIdentifiers = new Set<string>();
  const customers = new Map<string, Record<string, unknown>>();
  const invoices: FakeInvoice[] = [];
  const sessions = new Map<string, Record<string, unknown>>();
  const idempotent = new Map<string, { status: number; body: unknown }>();
  const faults: Fault[] = [];
  let randomFailure = { fraction: 0, status: 500 };
  let duplicates = 0;
  const sockets = new Set<Socket>();

  const handle = (req: RecordedRequest): { status: number; body: unknown } => {
    const now = Math.floor(Date.now() / 1000);
    const { method, path, body } = req;
    if (method === 'POST' && path === '/v1/customers') {
      const id = `cus_${token()}`;
      const customer = { id, object: 'customer', created: now, ...body };
      customers.set(id, customer);
      return { status: 200, body: customer };
    }
    if (method === 'DELETE' && path.startsWith('/v1/customers/')) {
      const id = path.slice('/v1/customers/'.length);
      if (!customers.delete(id)) {
        return {
          status: 404,
          body: {
            error: {
              type: 'invalid_request_error',
              code: 'resource_missing',
              message: `No such customer: '${id}'`,
            },
          },
        };
      }
      return { status: 200, body: { id, object: 'customer', deleted: true } };
    }
    if (method === 'POST' && path === '/v1/checkout/sessions') {
      const trial = (body.subscription_data as Record<string, unknown> | undefined)?.trial_period_days;
      // Stripe: a whole number of days, at least 1 and at most 730.
      if (
        trial !== undefined &&
        !(/^\d+$/.test(String(trial)) && Number(trial) >= 1 && Number(trial) <= 730)
      ) {
        return {
          status: 400,
          body: {
            error: {
              type: 'invalid_request_error',
              param: 'subscription_data[trial_period_days]',
              message: 'Invalid integer: trial_period_days must be between 1 and 730',
            },
          },
        };
      }
      const id = `cs_test_${token()}`;
      const session = {
        id,
        object: 'checkout.session',
        url: `https://checkout.stripe.test/c/pay/${id}`,
        status: 'open',
        created: now,
        ...body,
      };
      sessions.set(id, session);
      return { status: 200, body: session };
    }
    if (method === 'POST' && path === '/v1/billing_portal/sessions') {
      const id = `bps_${token()}`;
      return {
        status: 200,
        body: {
          id,
          object: 'billing_portal.session',
          url: `https://billing.stripe.test/p/session/${id}`,
          ...body,
        },
      };
    }
    if (method === 'GET' && path === '/v1/invoices') {
      const customer = req.query.get('customer');
      const limit = Number(req.query.get('limit') ?? 10);
      const after = req.query.get('starting_after');
      let list = invoices
        .filter((i) => !customer || i.customer === customer)
        .sort((a, b) => b.created - a.created);
      if (after) list = list.slice(list.findIndex((i) => i.id === after) + 1);
      return {
        status: 200,
        body: {
          object: 'list',
          url: '/v1/invoices',
          has_more: list.length > limit,
          data: list.slice(0, limit).map((i) => ({ object: 'invoice', ...i })),
        },
      };
    }
    if (method === 'POST' && path === '/v1/billing/meter_events') {
      const identifier = String(body.identifier ?? `gen_${token()}`);
      if (seenIdentifiers.has(identifier)) {
        duplicates++;
        return {
          status: 400,
          body: {
            error: {
              type: 'invalid_request_error',
              message: `An event already exists with identifier ${identifier}.`,
            },
          },
        };
      }
      seenIdentifiers.add(identifier);
      const event = {
        event_name: String(body.event_name),
        identifier,
        timestamp: Number(body.timestamp ?? now),
        payload: body.payload as Record<string, string>,
      };
      meterEvents.push(event);
      return {
        status: 200,
        body: { object: 'billing.meter_event', created: now, livemode: false, ...event },
      };
    }
    return {
      status: 404,
      body: {
        error: { type: 'invalid_request_error', message: `Unrecognized request URL (${method}: ${path})` },
      },
    };
  };

  const server = http.createServer((req, res) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => {
      raw += c;
    });
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://fake');
      const recorded: RecordedRequest = {
        method: req.method ?? 'GET',
        path: url.pathname,
        query: url.searchParams,
        body: decodeForm(raw),
        headers: req.headers,
      };
      requests.push(recorded);
      const faultAt = faults.findIndex((f) => !f.path || recorded.path.startsWith(f.path));
      const random: Fault | undefined =
        Math.random() < randomFailure.fraction ? { kind: 'status', status: randomFailure.status } : undefined;
      const fault = faultAt >= 0 ? faults.splice(faultAt, 1)[0] : random;
      if (fault?.kind === 'hang') return; // never answered; close() destroys the socket
      let answer: { status: number; body: unknown };
      if (fault?.kind === 'status') {
        answer = {
          status: fault.status,
          body: {
            error: {
              type: fault.status === 429 ? 'rate_limit_error' : 'api_error',
              message: `fake fault ${fault.status}`,
            },
          },
        };
      } else {
        const key = req.headers['idempotency-key'];
        const cacheKey = typeof key === 'string' ? `${recorded.path} ${key}` : null;
        const cached = cacheKey ? idempotent.get(cacheKey) : undefined;
        answer = cached ?? handle(recorded);
        if (cacheKey && !cached) idempotent.set(cacheKey, answer);
      }
      res.writeHead(answer.status, { 'content-type': 'application/json', 'request-id': `req_${token()}` });
      res.end(JSON.stringify(answer.body));
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    meterEvents,
    customers,
    invoices,
    sessions,
    completeCheckout(sessionId) {
      const session = sessions.get(sessionId);
      if (!session) throw new Error(`no checkout session ${sessionId}`);
      const now = Math.floor(Date.now() / 1000);
      const data = (session.subscription_data ?? {}) as Record<string, unknown>;
      const trialDays = data.trial_period_days === undefined ? null : Number(data.trial_period_days);
      const trialEnd = trialDays ? now + trialDays * 86_400 : null;
      const periodEnd = trialEnd ?? now + 30 * 86_400;
      const subscription = {
        id: `sub_${token()}`,
        object: 'subscription',
        customer: session.customer,
        status: trialEnd ? 'trialing' : 'active',
        created: now,
        cancel_at_period_end: false,
        metadata: data.metadata ?? {},
        trial_start: trialEnd ? now : null,
        trial_end: trialEnd,
        items: {
          object: 'list',
          data: ((session.line_items ?? []) as Array<{ price: string }>).map((li, i) => ({
            id: `si_${i}_${token()}`,
            current_period_start: now,
            current_period_end: periodEnd,
            price: { id: li.price, lookup_key: null },
          })),
        },
      };
      Object.assign(session, { status: 'complete', subscription: subscription.id });
      return { session: { ...session }, subscription };
    },
    failNext(n, status = 500, path) {
      for (let i = 0; i < n; i++) faults.push({ kind: 'status', status, path });
    },
    hangNext(n, path) {
      for (let i = 0; i < n; i++) faults.push({ kind: 'hang', path });
    },
    failRandomly(fraction, status = 500) {
      randomFailure = { fraction, status };
    },
    duplicateMeterEvents: () => duplicates,
    clearFaults() {
      faults.length = 0;
      randomFailure = { fraction: 0, status: 500 };
    },
    close() {
      for (const s of sockets) s.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function token(): string {
  return randomBytes(9).toString('base64url');
}

/** Decodes the SDK's form bodies: `line_items[0][price]=p&metadata[plan]=pro` → nested objects/arrays. */
export function decodeForm(raw: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const pair of raw.split('&')) {
    if (!pair) continue;
    const eq = pair.indexOf('=');
    const decode = (s: string) => decodeURIComponent(s.replaceAll('+', ' '));
    const key = decode(eq < 0 ? pair : pair.slice(0, eq));
    const value = eq < 0 ? '' : decode(pair.slice(eq + 1));
    const path = (key.match(/^[^[]+|\[[^\]]*\]/g) ?? []).map((p) => p.replace(/^\[|\]$/g, ''));
    let node: Record<string, unknown> | unknown[] = out;
    path.forEach((seg, i) => {
      const last = i === path.length - 1;
      const container = node as Record<string, unknown>;
      const k = seg === '' && Array.isArray(node) ? String(node.length) : seg;
      if (last) {
        container[k] = value;
        return;
      }
      if (container[k] === undefined) container[k] = /^\d*$/.test(path[i + 1] ?? '') ? [] : {};
      node = container[k] as Record<string, unknown>;
    });
  }
  return out;
}

/**
 * A webhook delivery as Stripe sends it: the JSON body and a `Stripe-Signature` header made with
 * `stripe.webhooks.generateTestHeaderString`. `timestamp` (unix s) defaults to now.
 */
export function signedWebhook(
  event: Record<string, unknown>,
  secret: string,
  opts: { timestamp?: number } = {},
): { body: string; signature: string } {
  const body = JSON.stringify(event);
  const signature = stripeWebhooks.generateTestHeaderString({
    payload: body,
    secret,
    timestamp: opts.timestamp,
  });
  return { body, signature };
}
