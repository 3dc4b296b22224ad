import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stop as stopEsbuild } from 'esbuild';
import { createServer, type ViteDevServer } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi } from '../../api/testing/api-harness.ts';
import { type Browser, launchBrowser } from './browser.ts';

/**
 * `npm run dev:web`: Vite serves the dashboard from its sources with `/v1` proxied to the API
 * (RENDERMILL_API_URL). A real browser on the dev server signs in through the proxy.
 */
let t: TestApi;
let vite: ViteDevServer;
let devUrl: string;
let browser: Browser;
let downloads: string;

beforeAll(async () => {
  t = await startTestApi();
  process.env.RENDERMILL_API_URL = t.api.url;
  vite = await createServer({
    configFile: fileURLToPath(new URL('../vite.config.ts', import.meta.url)),
    server: { host: '127.0.0.1', port: 0, strictPort: false },
    logLevel: 'silent',
    clearScreen: false,
  });
  await vite.listen();
  devUrl = vite.resolvedUrls!.local[0]!.replace(/\/$/, '');
  downloads = await mkdtemp(path.join(os.tmpdir(), 'rendermill-dev-'));
  browser = await launchBrowser({ downloadsDir: downloads });
});
afterAll(async () => {
  await browser?.close();
  await vite?.close();
  // Vite's transforms leave esbuild's service process running for the next one.
  await stopEsbuild();
  delete process.env.RENDERMILL_API_URL;
  await t?.close();
  await rm(downloads, { recursive: true, force: true });
});

describe('npm run dev:web', () => {
  it('when the dev server runs, then it serves the app from source and proxies /v1 to the API', async () => {
    const index = await fetch(`${devUrl}/`);
    expect(index.status).toBe(200);
    const html = await index.text();
    expect(html).toContain('/@vite/client');
    const plans = await fetch(`${devUrl}/v1/plans`);
    expect(plans.status).toBe(200);
    expect(await plans.json()).toEqual((await t.call('GET', '/v1/plans')).body);
  });

  it('when a user signs in on the dev server, then the emailed link works through the proxy and Renders opens', async () => {
    const { page } = browser;
    await page.goto(`${devUrl}/`);
    await page.getByLabel('Email').fill('dev@web.example.com');
    await page.getByRole('button', { name: 'Send sign-in link' }).click();
    await page.getByRole('status').filter({ hasText: 'If that address can sign in' }).waitFor();
    const token = await t.linkToken('dev@web.example.com');
    await page.goto(`${devUrl}/sign-in/verify?token=${token}`);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Renders' }).waitFor();
    // A reload keeps the session: the refresh cookie went through the proxy too.
    await page.reload();
    await page.getByRole('heading', { name: 'Renders' }).waitFor();
  });
});
