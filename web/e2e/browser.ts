/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import AxeBuilder from '@axe-core/playwright';
import { type BrowserContext, chromium, type Page } from 'playwright-core';

/** Debian's chromium (`.ci/run` installs it); Playwright never downloads a browser here. */
export const CHROMIUM = '/usr/bin/chromium';
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface Browser {
  context: BrowserContext;
  page: Page;
  /** Messages the page logged about blocked content (CSP violations). */
  cspViolations: string[];
  close(): Promise<void>;
}

/** A fresh Chromium with a new, empty profile; `close()` ends the browser and removes the profile. */
export async function launchBrowser(opts: {
  downloadsDir: string;
  permissions?: string[];
}): Promise<Browser> {
  const profile = await mkdtemp(path.join(os.tmpdir(), 'rendermill-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    acceptDownloads: true,
    downloadsPath: opts.downloadsDir,
    viewport: { width: 1280, height: 900 },
    timeout: 30_000,
    permissions: opts.permissions ?? [],
  });
  // 30 s: two browser files may share the 2 cores with a worker each (CI runs two forks).
  context.setDefaultTimeout(30_000);
  const page = context.pages()[0] ?? (await context.newPage());
  const cspViolations: string[] = [];
  page.on('console', (m) => {
    if (/Content Security Policy|Refused to/i.test(m.text())) cspViolations.push(m.text());
  });
  return {
    context,
    page,
    cspViolations,
    async close() {
      await context.close().catch(() => undefined);
      await rm(profile, { recursive: true, force: true });
    },
  };
}

/** axe-core on the current page: the serious and critical violations (an empty list passes). */
export async function seriousA11yViolations(page: Page): Promise<string[]> {
  const result = await new AxeBuilder({ page }).analyze();
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`);
}

/**
 * Tabs through the page and answers the enabled controls Tab never reached (empty: every
 * control is reachable by keyboard).
 */
export async function unreachableByKeyboard(page: Page): Promise<string[]> {
  const total = await page.evaluate(() => {
    const controls = document.querySelectorAll<HTMLElement>(
      'a[href], button:not([disabled]), input:not([disabled]), select:not([disabled]), textarea:not([disabled]), video[controls]',
    );
    controls.forEach((el, i) => {
      el.dataset.kbd = String(i);
    });
    return controls.length;
  });
  const seen = new Set<string>();
  await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
  for (let i = 0; i < total + 10; i++) {
    await page.keyboard.press('Tab');
    const id = await page.evaluate(() => (document.activeElement as HTMLElement | null)?.dataset.kbd ?? '');
    if (id) seen.add(id);
  }
  return page.evaluate(
    (ids) =>
      [...document.querySelectorAll<HTMLElement>('[data-kbd]')]
        .filter((el) => !ids.includes(el.dataset.kbd ?? ''))
        .map(
          (el) =>
            `${el.tagName.toLowerCase()} "${(el.textContent || el.getAttribute('aria-label') || el.id).trim()}"`,
        ),
    [...seen],
  );
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}
