import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline/promises';
import { Rendermill } from '../client.ts';

/** What `rendermill login` keeps: the refresh token (each works once; the CLI stores the next). */
export interface StoredSession {
  base_url: string;
  refresh_token: string;
  email: string;
  tenant_id: string;
}

interface TokenPair {
  access_token: string;
  refresh_token: string;
  user: { id: string; email: string };
  tenant: { id: string; name: string; plan: string };
  role: string;
}

/** `$XDG_CONFIG_HOME/rendermill/session.json`, else `~/.config/rendermill/session.json`. */
export function sessionPath(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME || path.join(os.homedir(), '.config');
  return path.join(base, 'rendermill', 'session.json');
}

export async function readSession(file = sessionPath()): Promise<StoredSession | null> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as StoredSession;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** Written 0600 in a 0700 directory: the refresh token is a credential. */
async function writeSession(s: StoredSession, file = sessionPath()): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  await writeFile(file, `${JSON.stringify(s, null, 2)}\n`, { mode: 0o600 });
}

const anonymous = (baseUrl: string) => new Rendermill({ baseUrl, maxRetries: 1 });

/** A pasted sign-in link (`…/sign-in/verify?token=…`) or the bare token. */
export function tokenFrom(pasted: string): string {
  const text = pasted.trim();
  try {
    return new URL(text).searchParams.get('token') ?? text;
  } catch {
    return text;
  }
}

/**
 * `rendermill login`: asks for an email, has the API mail a sign-in link, reads the pasted link
 * or token, and stores the session's refresh token. Reads answers line by line, so a script can
 * feed stdin.
 */
export async function login(baseUrl: string, emailArg: string | undefined): Promise<TokenPair> {
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: false });
  const lines = rl[Symbol.asyncIterator]();
  const ask = async (question: string) => {
    process.stderr.write(question);
    const next = await lines.next();
    if (next.done) throw new Error('stdin ended before an answer');
    return String(next.value).trim();
  };
  try {
    const email = emailArg ?? (await ask('Email: '));
    const rm = anonymous(baseUrl);
    await rm.http.json('POST', '/v1/auth/magic-link', { body: { email } });
    process.stderr.write(`A sign-in link was mailed to ${email}.\n`);
    const token = tokenFrom(await ask('Paste the link (or its token): '));
    const pair = await rm.http.json<TokenPair>('POST', '/v1/auth/verify', {
      body: { token, session: 'tokens' },
    });
    await writeSession({
      base_url: baseUrl,
      refresh_token: pair.refresh_token,
      email: pair.user.email,
      tenant_id: pair.tenant.id,
    });
    return pair;
  } finally {
    rl.close();
  }
}

/**
 * An access token from the stored session: the refresh token is traded for a new pair and the
 * new refresh token stored (the old one is spent). Null without a stored session.
 */
export async function accessTokenFromSession(
  baseUrl: string,
): Promise<{ token: string; session: StoredSession } | null> {
  const s = await readSession();
  if (!s) return null;
  const url = s.base_url || baseUrl;
  const pair = await anonymous(url).http.json<TokenPair>('POST', '/v1/auth/refresh', {
    body: { refresh_token: s.refresh_token },
  });
  const next = { ...s, refresh_token: pair.refresh_token };
  await writeSession(next);
  return { token: pair.access_token, session: next };
}

/** `rendermill logout`: ends the session at the API (best effort) and removes the file. */
export async function logout(): Promise<boolean> {
  const s = await readSession();
  if (!s) return false;
  try {
    await anonymous(s.base_url).http.json('POST', '/v1/auth/logout', {
      body: { refresh_token: s.refresh_token },
    });
  } finally {
    await rm(sessionPath(), { force: true });
  }
  return true;
}
