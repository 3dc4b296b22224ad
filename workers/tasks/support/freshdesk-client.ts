import { retryAfterMs } from '../../../shared/net/retry-after.ts';

/**
 * The two Freshdesk REST API v2 calls support delivery needs: create a ticket, and list a
 * requester's recent tickets (to learn whether a create whose answer was lost did land).
 * Basic auth with the API key as user name and `X` as password, as Freshdesk documents.
 */

export interface NewHelpdeskTicket {
  email: string;
  subject: string;
  /** HTML */
  description: string;
  tags: string[];
}

/** A failed call: `retryable` for 429, 5xx, timeouts and network errors; `retryAfterMs` from Retry-After. */
export class HelpdeskError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly status: number | null,
    readonly retryAfterMs: number | null = null,
    /** The create may have landed (the answer was lost): look before creating again. */
    readonly outcomeUnknown = false,
  ) {
    super(message);
    this.name = 'HelpdeskError';
  }
}

export interface FreshdeskClient {
  createTicket(t: NewHelpdeskTicket): Promise<{ id: string }>;
  /** The id of a ticket of this requester, updated since `since`, that carries `tag`; else null. */
  findByTag(email: string, tag: string, since: Date): Promise<string | null>;
}

/** `acme.freshdesk.com` → `https://acme.freshdesk.com`; a full URL (a local fake in tests) is kept. */
export function freshdeskBaseUrl(domain: string): string {
  return (domain.includes('://') ? domain : `https://${domain}`).replace(/\/+$/, '');
}

export function createFreshdeskClient(opts: {
  domain: string;
  apiKey: string;
  timeoutMs: number;
}): FreshdeskClient {
  const base = freshdeskBaseUrl(opts.domain);
  const auth = `Basic ${Buffer.from(`${opts.apiKey}:X`).toString('base64')}`;

  async function call(method: 'GET' | 'POST', path: string, body?: unknown): Promise<unknown> {
    let res: Response;
    try {
      res = await fetch(`${base}${path}`, {
        method,
        headers: {
          authorization: auth,
          accept: 'application/json',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        redirect: 'error',
        signal: AbortSignal.timeout(opts.timeoutMs),
      });
    } catch (err) {
      // No answer: for a create, Freshdesk may or may not have made the ticket.
      const message = err instanceof Error ? err.message : String(err);
      throw new HelpdeskError(`freshdesk ${method} ${path}: ${message}`, true, null, null, method === 'POST');
    }
    const text = await res.text().catch(() => '');
    if (res.ok) {
      try {
        return text ? JSON.parse(text) : null;
      } catch {
        throw new HelpdeskError(
          `freshdesk ${method} ${path}: answer is not JSON`,
          true,
          res.status,
          null,
          true,
        );
      }
    }
    const retryable = res.status === 429 || res.status >= 500;
    throw new HelpdeskError(
      `freshdesk ${method} ${path}: HTTP ${res.status} ${text.slice(0, 300)}`,
      retryable,
      res.status,
      retryAfterMs(res.headers.get('retry-after')) ?? null,
      // A 5xx may come from a proxy after the ticket was written.
      method === 'POST' && res.status >= 500,
    );
  }

  return {
    async createTicket(t) {
      // status 2 = Open, priority 1 = Low: support triages from there.
      const created = (await call('POST', '/api/v2/tickets', { ...t, status: 2, priority: 1 })) as {
        id?: number | string;
      } | null;
      if (created?.id === undefined) {
        throw new HelpdeskError('freshdesk created a ticket without an id', true, 201, null, true);
      }
      return { id: String(created.id) };
    },
    async findByTag(email, tag, since) {
      const q = new URLSearchParams({
        email,
        updated_since: since.toISOString().replace(/\.\d{3}Z$/, 'Z'),
        per_page: '100',
      });
      const list = (await call('GET', `/api/v2/tickets?${q}`)) as Array<{
        id: number | string;
        tags?: string[];
      }>;
      const hit = Array.isArray(list) ? list.find((t) => t.tags?.includes(tag)) : undefined;
      return hit ? String(hit.id) : null;
    },
  };
}
