import { startSmtpSink } from '../../shared/testing/smtp-sink.ts';
import { createTestEnv, type TestEnv } from '../../shared/testing/test-env.ts';
import { type ApiOverrides, type ApiProcess, start } from '../main.ts';
import { type ContractChecker, createContractChecker } from './contract-check.ts';

export interface HttpResult<T = Record<string, unknown>> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

export interface TestApi {
  env: TestEnv;
  api: ApiProcess;
  smtp: Awaited<ReturnType<typeof startSmtpSink>>;
  call<T = Record<string, unknown>>(
    method: string,
    path: string,
    opts?: { token?: string; body?: unknown; headers?: Record<string, string>; raw?: string },
  ): Promise<HttpResult<T>>;
  /** The served OpenAPI document's checker; `call` runs every answer through it. */
  contract: ContractChecker;
  /** Full magic-link flow through the SMTP sink; returns the verify answer. */
  signIn(email: string, opts?: { tenantId?: string }): Promise<SignIn>;
  /** The token from the newest link mailed to `email`. */
  linkToken(email: string, after?: number): Promise<string>;
  close(): Promise<void>;
}

export interface SignIn {
  access_token: string;
  refresh_token: string;
  user: { id: string; email: string };
  tenant: { id: string; name: string; plan: string };
  role: string;
}

const isEventStream = (res: Response) =>
  res.ok && (res.headers.get('content-type') ?? '').startsWith('text/event-stream');

/**
 * An event stream never ends: what it sent up to its first blank line (the `retry:` preamble the
 * server writes at once), then the connection is closed. The status and content type are checked
 * as for any other answer.
 */
async function firstMessage(res: Response): Promise<string> {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  try {
    while (!text.includes('\n\n')) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
  } finally {
    await reader.cancel();
  }
  return text;
}

/**
 * Boots the real API (port 0) on this file's own database, Redis prefix and SMTP sink;
 * `overrides` are environment variables, `pieces` replace what `api/main.ts` would build.
 * Overrides that depend on the env (the API's `DATABASE_URL` through a proxy to this file's
 * database) are given as a function of it; they apply to the API only, `env.config` and
 * `env.db` stay direct.
 */
export async function startTestApi(
  overrides: Record<string, string> | ((env: TestEnv) => Record<string, string>) = {},
  pieces: ApiOverrides = {},
): Promise<TestApi> {
  const smtp = await startSmtpSink();
  const env = await createTestEnv({
    SMTP_URL: smtp.url,
    ...(typeof overrides === 'function' ? {} : overrides),
  });
  const api = await start(
    typeof overrides === 'function' ? env.configWith(overrides(env)) : env.config,
    pieces,
  );
  // Every answer is checked against the document the API itself serves (strict: an undocumented
  // status or a drifting body throws, failing the test that made the call).
  const contract = createContractChecker(
    (await (await fetch(`${api.url}/openapi.json`)).json()) as Record<string, unknown>,
  );

  const call: TestApi['call'] = async (method, path, opts = {}) => {
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    let body: string | undefined = opts.raw;
    if (opts.body !== undefined) {
      body = JSON.stringify(opts.body);
      headers['content-type'] = 'application/json';
    }
    if (opts.raw !== undefined && !headers['content-type']) headers['content-type'] = 'application/json';
    const res = await fetch(`${api.url}${path}`, { method, headers, body, redirect: 'manual' });
    const text = isEventStream(res) ? await firstMessage(res) : await res.text();
    let parsed: unknown = {};
    try {
      parsed = text ? JSON.parse(text) : {};
    } catch {
      parsed = {};
    }
    contract.check({ method, path, status: res.status, contentType: res.headers.get('content-type'), text });
    return { status: res.status, headers: res.headers, body: parsed as never, text };
  };

  const linkToken = async (email: string, after = 0) => {
    const mail = await smtp.waitFor(
      (m, i = smtp.mails.indexOf(m)) => i >= after && m.to.includes(email.toLowerCase()),
    );
    const match = /token=([A-Za-z0-9_-]+)/.exec(mail.text);
    if (!match?.[1]) throw new Error('no token in mail');
    return match[1];
  };

  return {
    env,
    api,
    smtp,
    call,
    contract,
    linkToken,
    async signIn(email, opts = {}) {
      const before = smtp.mails.length;
      const r = await call('POST', '/v1/auth/magic-link', { body: { email } });
      if (r.status !== 202) throw new Error(`magic-link answered ${r.status}: ${r.text}`);
      const token = await linkToken(email, before);
      const v = await call<SignIn>('POST', '/v1/auth/verify', { body: { token, tenant_id: opts.tenantId } });
      if (v.status !== 200) throw new Error(`verify answered ${v.status}: ${v.text}`);
      return v.body;
    },
    async close() {
      await api.stop();
      await smtp.close();
      await env.cleanup();
    },
  };
}
