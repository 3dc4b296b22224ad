import { randomBytes } from 'node:crypto';
import { ROLES, type Role } from '../../shared/auth/roles.ts';
import { newId } from '../../shared/ids/ids.ts';
import { notify } from '../../shared/notifications/notify.ts';
import { startFakeGoogle } from '../../shared/testing/fake-google.ts';
import { startFakeStripe } from '../../shared/testing/fake-stripe.ts';
import { type HttpResult, type SignIn, startTestApi, type TestApi } from './api-harness.ts';

type Json = Record<string, unknown>;

/** One documented operation, as the contract suites read it from `GET /openapi.json`. */
export interface DocOp {
  operationId: string;
  method: string;
  path: string;
  op: Json & {
    security: Json[];
    parameters?: Array<{ name: string; in: string; required?: boolean; schema: Json; example?: string }>;
    requestBody?: { content: Record<string, { schema: Json; example?: unknown }> };
    'x-min-role'?: Role;
  };
}

export interface Principal {
  label: string;
  token: string;
  /** Session principals only. */
  signIn?: SignIn;
}

/** The roles an API key can have: an owner's powers are never given to a key. */
export const KEY_ROLES = ['viewer', 'member', 'admin'] as const satisfies readonly Role[];
export type KeyRole = (typeof KEY_ROLES)[number];

export interface RequestPlan {
  method: string;
  path: string;
  body?: unknown;
  raw?: string;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  token?: string;
}

/** Limits far above what the suites send: they test the contract, not the rate limiter. */
const UNLIMITED = {
  RATE_LIMIT_PER_MINUTE: '10000000',
  RATE_LIMIT_BURST_PER_SECOND: '10000000',
  MAGIC_LINK_PER_EMAIL: '10000000',
  MAGIC_LINK_PER_IP: '10000000',
};

export function operationsOf(doc: Json): DocOp[] {
  const out: DocOp[] = [];
  for (const [path, item] of Object.entries(doc.paths as Record<string, Record<string, DocOp['op']>>)) {
    for (const [method, op] of Object.entries(item)) {
      out.push({ operationId: op.operationId as string, method: method.toUpperCase(), path, op });
    }
  }
  return out;
}

export const minRole = (o: DocOp): Role => o.op['x-min-role'] ?? 'viewer';
export const needsBearer = (o: DocOp) => o.op.security.some((s) => 'accessToken' in s);
export const userOnly = (o: DocOp) => needsBearer(o) && !o.op.security.some((s) => 'apiKey' in s);
export const pathParamNames = (o: DocOp) => [...o.path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]!);

/** Two tenants with a session and an API key per role, and one of each resource an id in a path can name. */
export async function createWorld() {
  // Billing through a local Stripe stand-in, so billing operations can succeed (not 503 local-ledger mode).
  const stripe = await startFakeStripe();
  // Google (OAuth, YouTube) likewise, so the integration operations are configured (not 503).
  const google = await startFakeGoogle();
  const t: TestApi = await startTestApi({
    ...UNLIMITED,
    ...google.env,
    INTEGRATIONS_ENCRYPTION_KEY: randomBytes(32).toString('hex'),
    STRIPE_SECRET_KEY: 'sk_test_contract',
    STRIPE_API_URL: stripe.url,
    STRIPE_WEBHOOK_SECRET: 'whsec_contract',
  });
  const doc = (await t.call('GET', '/openapi.json')).body as Json;
  const ops = operationsOf(doc);
  let n = 0;
  const email = (what: string) => `${what}-${++n}@contract.example.com`;

  const ownerA = await t.signIn(email('owner-a'));
  const tenantA = ownerA.tenant.id;
  const addUser = async (tenantId: string, role: Role): Promise<{ userId: string; signIn: SignIn }> => {
    const userId = newId('usr');
    const address = email(role);
    await t.env.db('users').insert({ id: userId, email: address });
    await t.env.db('memberships').insert({ tenant_id: tenantId, user_id: userId, role });
    return { userId, signIn: await t.signIn(address, { tenantId }) };
  };
  const sessionsA: Record<Role, Principal> = {
    owner: { label: 'A owner session', token: ownerA.access_token, signIn: ownerA },
  } as Record<Role, Principal>;
  const users: Record<string, string> = {};
  for (const role of ROLES.filter((r) => r !== 'owner')) {
    const u = await addUser(tenantA, role);
    users[role] = u.userId;
    sessionsA[role] = { label: `A ${role} session`, token: u.signIn.access_token, signIn: u.signIn };
  }
  const key = async (owner: SignIn, role: KeyRole) => {
    const r = await t.call<{ id: string; key: string }>('POST', '/v1/api-keys', {
      token: owner.access_token,
      body: { name: `contract ${role}`, role },
    });
    if (r.status !== 201) throw new Error(`api key: ${r.status} ${r.text}`);
    return r.body;
  };
  const keyA = await key(ownerA, 'admin');
  // One key per role, for the role suite (the admin one is keyA).
  const keysA = { admin: { label: 'A admin API key', token: keyA.key } } as Record<KeyRole, Principal>;
  for (const role of KEY_ROLES.filter((r) => r !== 'admin')) {
    keysA[role] = { label: `A ${role} API key`, token: (await key(ownerA, role)).key };
  }

  const ownerB = await t.signIn(email('owner-b'));
  const keyB = await key(ownerB, 'admin');
  const tenantB = {
    session: { label: 'B owner session', token: ownerB.access_token, signIn: ownerB } as Principal,
    apiKey: { label: 'B admin API key', token: keyB.key } as Principal,
  };

  const submitTts = async (token: string) => {
    const r = await t.call<{ id: string }>('POST', '/v1/tts', { token, body: { text: 'contract' } });
    if (r.status !== 202) throw new Error(`tts: ${r.status} ${r.text}`);
    return r.body.id;
  };
  const invite = async (token: string) => {
    const r = await t.call<{ id: string }>('POST', '/v1/invites', {
      token,
      body: { email: email('invitee'), role: 'viewer' },
    });
    if (r.status !== 201) throw new Error(`invite: ${r.status} ${r.text}`);
    return r.body.id;
  };
  const currentSession = async (token: string) => {
    const r = await t.call<{ data: Array<{ id: string; current: boolean }> }>('GET', '/v1/sessions', {
      token,
    });
    return r.body.data.find((s) => s.current)!.id;
  };

  /** A delivery of a webhook.test to A's default endpoint (set again first: a fuzzed DELETE may remove it). */
  const delivery = async (token: string, settled: boolean) => {
    const url = 'https://example.com/hooks/contract';
    const put = await t.call('PUT', '/v1/webhook-endpoint', { token, body: { url } });
    if (put.status !== 200) throw new Error(`webhook endpoint: ${put.status} ${put.text}`);
    const r = await t.call<{ id: string }>('POST', '/v1/webhooks/test', { token });
    if (r.status !== 202) throw new Error(`test webhook: ${r.status} ${r.text}`);
    // No worker runs here, so nothing attempts it: settle it as the callback task would after
    // giving up, so a replay can be accepted.
    if (settled) await t.env.db('webhook_deliveries').update({ status: 'failed' }).where({ id: r.body.id });
    return r.body.id;
  };
  const ticket = async (token: string) => {
    const r = await t.call<{ id: string }>('POST', '/v1/support/tickets', {
      token,
      body: { subject: 'contract', message: 'a ticket of tenant A' },
    });
    if (r.status !== 201) throw new Error(`ticket: ${r.status} ${r.text}`);
    return r.body.id;
  };
  /** A notification in the feed of `who` (the same row the workers or the API would add). */
  const notification = async (who: SignIn) => {
    const key = `contract:${++n}`;
    await notify(t.env.db, {
      tenantId: who.tenant.id,
      type: 'member.joined',
      title: 'contract',
      body: 'a notification of tenant A',
      dedupeKey: key,
      audience: { userId: who.user.id },
    });
    const row = await t.env.db('notifications').select('id').where({ dedupe_key: key }).first();
    if (!row) throw new Error(`notification ${key} was not written`);
    return row.id;
  };

  /** Tenant A's resources, named as the path parameters name them. */
  const idsA = {
    job: await submitTts(ownerA.access_token),
    apiKey: keyA.id,
    member: users.viewer!,
    invite: await invite(ownerA.access_token),
    session: await currentSession(ownerA.access_token),
    delivery: await delivery(ownerA.access_token, true),
    ticket: await ticket(ownerA.access_token),
    notification: await notification(ownerA),
  };

  /**
   * Path ids for an operation. `fresh` makes a new resource for operations that consume theirs
   * (delete, rotate, cancel), so a successful call does not take one another call needs.
   */
  const pathIds = async (o: DocOp, caller: Principal, fresh: boolean): Promise<Record<string, string>> => {
    switch (o.operationId) {
      case 'getJob':
      case 'getJobOutput':
        return { id: idsA.job };
      case 'cancelJob':
        return { id: fresh ? await submitTts(sessionsA.owner.token) : idsA.job };
      case 'downloadFile':
        return { jobId: idsA.job };
      case 'deleteApiKey':
      case 'rotateApiKey':
        return { id: fresh ? (await key(ownerA, 'viewer')).id : idsA.apiKey };
      case 'getWebhookDelivery':
        return { id: idsA.delivery };
      case 'replayWebhookDelivery':
        return { id: fresh ? await delivery(sessionsA.owner.token, true) : idsA.delivery };
      case 'changeMemberRole':
      case 'removeMember':
        return { user_id: fresh ? (await addUser(tenantA, 'member')).userId : idsA.member };
      case 'getSupportTicket':
        return { id: idsA.ticket };
      case 'readNotification':
        return { id: idsA.notification };
      case 'deleteInvite':
        return { id: fresh ? await invite(sessionsA.owner.token) : idsA.invite };
      case 'deleteSession': {
        // A second session of the caller, so the caller's own token lives on.
        if (!fresh || !caller.signIn) return { id: idsA.session };
        const again = await t.signIn(caller.signIn.user.email, { tenantId: caller.signIn.tenant.id });
        return { id: await currentSession(again.access_token) };
      }
      default:
        return {};
    }
  };

  /** A valid request for an operation (from the document's examples), made by `caller`. */
  const validRequest = async (o: DocOp, caller: Principal, fresh = true): Promise<RequestPlan> => {
    const ids = await pathIds(o, caller, fresh);
    let path = o.path.replace(/\{([^}]+)\}/g, (_, p: string) => encodeURIComponent(ids[p] ?? 'unknown'));
    const query: Record<string, string> = {};
    const headers: Record<string, string> = {};
    for (const p of o.op.parameters ?? []) {
      if (p.example === undefined) continue;
      if (p.in === 'query') query[p.name] = p.example;
      if (p.in === 'header') headers[p.name] = `${p.example}-${++n}`; // one key per request: no 409 replays
    }
    const media = o.op.requestBody?.content['application/json'];
    let body = media?.example === undefined ? undefined : structuredClone(media.example);
    let token: string | undefined = needsBearer(o) ? caller.token : undefined;
    switch (o.operationId) {
      case 'verifySignIn': {
        const address = email('verify');
        const before = t.smtp.mails.length;
        await t.call('POST', '/v1/auth/magic-link', { body: { email: address } });
        body = { token: await t.linkToken(address, before) };
        break;
      }
      case 'refreshTokens':
      case 'logout':
        body = { refresh_token: (await t.signIn(email('refresh'))).refresh_token };
        break;
      case 'logoutAll':
        // Ends every session of its caller: a throwaway user of the caller's role.
        token = (await addUser(tenantA, minRole(o))).signIn.access_token;
        break;
      case 'scheduleAccountDeletion':
      case 'cancelAccountDeletion':
        if (caller === sessionsA.owner) token = (await t.signIn(email('leaving'))).access_token;
        break;
      case 'getJobOutput':
      case 'downloadFile':
        break;
      case 'receiveStripeWebhook':
        return {
          method: o.method,
          path,
          raw: JSON.stringify(body),
          headers: { 'Stripe-Signature': 't=1,v1=00' },
        };
    }
    if (Object.keys(query).length > 0) path += `?${new URLSearchParams(query)}`;
    return { method: o.method, path, body, headers, token };
  };

  const send = (plan: RequestPlan): Promise<HttpResult> =>
    t.call(plan.method, plan.path, {
      ...(plan.token ? { token: plan.token } : {}),
      ...(plan.body !== undefined ? { body: plan.body } : {}),
      ...(plan.raw !== undefined ? { raw: plan.raw } : {}),
      headers: plan.headers ?? {},
    });

  const close = async () => {
    await t.close();
    await stripe.close();
    await google.close();
  };

  return {
    t,
    close,
    doc,
    ops,
    tenantA,
    sessionsA,
    keyA,
    keysA,
    tenantB,
    idsA,
    ownerEmailA: ownerA.user.email,
    validRequest,
    send,
  };
}

export type World = Awaited<ReturnType<typeof createWorld>>;

/** `?a=1` → `{ a: '1' }` and back, for query mutations. */
export function withQuery(path: string, query: Record<string, unknown>): string {
  const base = path.split('?')[0]!;
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined) q.set(k, String(v));
  const s = q.toString();
  return s ? `${base}?${s}` : base;
}
