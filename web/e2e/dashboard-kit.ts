/// <reference lib="dom" />
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Locator, Page } from 'playwright-core';
import { expect } from 'vitest';
import { startTestApi, type TestApi } from '../../api/testing/api-harness.ts';
import { start as startWorker, type WorkerProcess } from '../../workers/main.ts';
import { type BuildReport, DIST, ensureWebBuild } from '../scripts/build-web.ts';
import { type Browser, freePort, launchBrowser, seriousA11yViolations } from './browser.ts';

const run = promisify(execFile);

export interface Dashboard {
  t: TestApi;
  browser: Browser;
  page: Page;
  /** `http://127.0.0.1:<port>`: the API serving the built app. */
  base: string;
  tmp: string;
  /** Where screenshots go: docs/screenshots with UPDATE_SCREENSHOTS=1, else a temp directory. */
  shots: string;
  build: BuildReport;
  heading(name: string | RegExp): Locator;
  /** axe-core on the current page finds no serious or critical violation. */
  expectAccessible(what: string): Promise<void>;
  /** The sign-in (or invite) link of the first mail to `email` after the `after`-th. */
  linkFor(email: string, after: number): Promise<string>;
  /** The whole browser sign-in: Email → Send sign-in link → the mailed link → Sign in → Renders. */
  signInByLink(email: string): Promise<void>;
  /** Accepts the next `window.confirm`. */
  confirmNextDialog(): void;
  curl(pathname: string, key: string): Promise<{ status: number; body: string }>;
  close(): Promise<void>;
}

export interface DashboardOptions {
  /** Extra API env (fake Stripe, limits, …). */
  env?: Record<string, string>;
  /** A PLANS_FILE for the API and worker. */
  plans?: Record<string, unknown>;
  /** Run a real worker beside the API (renders, webhook deliveries). Default true. */
  worker?: boolean;
  /** Chromium permissions (e.g. clipboard). */
  permissions?: string[];
}

/**
 * The dashboard's browser-test world: the built app served by the real API on this file's own
 * database (with the SMTP sink), a real worker, and a fresh Chromium profile.
 */
export async function startDashboard(opts: DashboardOptions = {}): Promise<Dashboard> {
  const build = await ensureWebBuild({ quiet: true });
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'rendermill-web-e2e-'));
  const shots =
    process.env.UPDATE_SCREENSHOTS === '1' ? path.resolve('docs/screenshots') : path.join(tmp, 'shots');
  await mkdir(shots, { recursive: true });
  const env: Record<string, string> = { ...opts.env };
  if (opts.plans) {
    env.PLANS_FILE = path.join(tmp, 'plans.json');
    await writeFile(env.PLANS_FILE, JSON.stringify(opts.plans));
  }
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const t = await startTestApi({
    PORT: String(port),
    PUBLIC_URL: base,
    WEB_DIST_DIR: DIST,
    RATE_LIMIT_PER_MINUTE: '1000',
    RATE_LIMIT_BURST_PER_SECOND: '100',
    ...env,
  });
  let worker: WorkerProcess | undefined;
  let browser: Browser | undefined;
  try {
    if (opts.worker !== false) worker = await startWorker(t.env.config);
    browser = await launchBrowser({ downloadsDir: tmp, permissions: opts.permissions ?? [] });
  } catch (err) {
    await worker?.stop();
    await t.close();
    throw err;
  }
  const b = browser;
  const page = b.page;
  const heading = (name: string | RegExp) => page.getByRole('heading', { level: 1, name });
  const linkFor = async (email: string, after: number) => {
    const mail = await t.smtp.waitFor((m) => t.smtp.mails.indexOf(m) >= after && m.to.includes(email));
    const link = /(http:\/\/\S+\/sign-in\/verify\?token=[A-Za-z0-9_-]+)/.exec(mail.text)?.[1];
    if (!link) throw new Error(`no sign-in link in: ${mail.text}`);
    return link;
  };
  return {
    t,
    browser: b,
    page,
    base,
    tmp,
    shots,
    build,
    heading,
    async expectAccessible(what) {
      expect(await seriousA11yViolations(page), `axe on ${what}`).toEqual([]);
    },
    linkFor,
    async signInByLink(email) {
      await b.context.clearCookies();
      await page.goto(`${base}/`);
      const before = t.smtp.mails.length;
      await page.getByLabel('Email').fill(email);
      await page.getByRole('button', { name: 'Send sign-in link' }).click();
      await page.goto(await linkFor(email, before));
      await page.getByRole('button', { name: 'Sign in' }).click();
      await heading('Renders').waitFor();
    },
    confirmNextDialog() {
      page.once('dialog', (d) => void d.accept());
    },
    async curl(pathname, key) {
      const { stdout } = await run('curl', [
        '-s',
        '-w',
        '\n%{http_code}',
        '-H',
        `authorization: Bearer ${key}`,
        `${base}${pathname}`,
      ]);
      const i = stdout.lastIndexOf('\n');
      return { status: Number(stdout.slice(i + 1)), body: stdout.slice(0, i) };
    },
    async close() {
      await b.close();
      await worker?.stop();
      await t.close();
      await rm(tmp, { recursive: true, force: true });
    },
  };
}
