import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi } from '../../testing/api-harness.ts';

const CHROMIUM = '/usr/bin/chromium';

describe('GET /docs', () => {
  let t: TestApi;
  beforeAll(async () => {
    t = await startTestApi();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('when the page is served, then it is HTML under the strict CSP with no inline script', async () => {
    const r = await t.call('GET', '/docs');
    expect(r.status).toBe(200);
    const csp = r.headers.get('content-security-policy') ?? '';
    const scriptSrc = csp.split(';').find((d) => d.trim().startsWith('script-src '));
    expect(scriptSrc?.trim()).toBe("script-src 'self'");
    expect(r.text).not.toMatch(/<script>(?!<\/script>)|<script(?![^>]*\ssrc=)[^>]*>/);
    expect(r.text).not.toMatch(/https?:\/\//);
  });

  it('when Chromium opens /docs, then the reference renders every operation with no external request and no CSP violation', async () => {
    expect(existsSync(CHROMIUM), 'Debian chromium (apt-get install chromium)').toBe(true);
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    });
    try {
      const page = await browser.newPage();
      const origin = new URL(t.api.url).origin;
      const external: string[] = [];
      const failed: string[] = [];
      const problems: string[] = [];
      page.on('request', (req) => {
        const url = req.url();
        if (!url.startsWith(origin) && !url.startsWith('data:') && !url.startsWith('blob:'))
          external.push(url);
      });
      page.on('requestfailed', (req) => failed.push(`${req.url()}: ${req.failure()?.errorText}`));
      page.on('console', (m) => {
        if (m.type() === 'error') problems.push(m.text());
      });
      page.on('pageerror', (e) => problems.push(e.message));
      await page.goto(`${t.api.url}/docs`, { waitUntil: 'networkidle' });
      await page.waitForSelector('.opblock-summary', { timeout: 30_000 });
      const ids = await page.$$eval('.opblock', (els) => els.length);
      const text = await page.textContent('body');
      expect(external).toEqual([]);
      expect(failed).toEqual([]);
      expect(problems.filter((p) => /Content Security Policy|Refused/i.test(p))).toEqual([]);
      expect(problems).toEqual([]);
      expect(text).toContain('Rendermill API');
      expect(text).toContain('/v1/renders');
      expect(ids).toBeGreaterThan(40);
    } finally {
      await browser.close();
    }
  });
});
