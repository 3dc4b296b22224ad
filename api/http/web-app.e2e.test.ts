import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi } from '../testing/api-harness.ts';

/** The dashboard served at `/` (a stand-in build), without shadowing any API path. */
let t: TestApi;
let bare: TestApi;
let dist: string;
beforeAll(async () => {
  dist = await mkdtemp(path.join(os.tmpdir(), 'rendermill-dist-'));
  await mkdir(path.join(dist, 'assets'));
  await writeFile(path.join(dist, 'index.html'), '<!doctype html><title>dash</title><div id="root"></div>');
  await writeFile(path.join(dist, 'assets', 'index-abc123.js'), 'console.log(1)');
  t = await startTestApi({ WEB_DIST_DIR: dist });
  bare = await startTestApi();
});
afterAll(async () => {
  await t.close();
  await bare.close();
  await rm(dist, { recursive: true, force: true });
});

const page = (p: string, accept = 'text/html') => t.call('GET', p, { headers: { accept } });

describe('dashboard serving', () => {
  it('when a client route is opened, then index.html is served, uncached, under the strict CSP', async () => {
    for (const p of ['/', '/renders', '/renders/job_abc', '/sign-in/verify?token=x']) {
      const r = await page(p);
      expect(r.status, p).toBe(200);
      expect(r.text).toContain('<div id="root">');
      expect(r.headers.get('cache-control')).toBe('no-cache');
    }
    const csp = (await page('/')).headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("style-src 'self';");
    expect(csp).not.toMatch(/unsafe-inline|https:/);
  });

  it('when an asset is fetched, then it is served with a long immutable cache', async () => {
    const r = await t.call('GET', '/assets/index-abc123.js');
    expect(r.status).toBe(200);
    expect(r.headers.get('cache-control')).toContain('immutable');
    expect((await t.call('GET', '/assets/missing.js')).status).toBe(404);
  });

  it('when API paths are asked for HTML, then they keep answering as the API (never the app)', async () => {
    expect((await page('/v1/jobs')).status).toBe(401);
    expect((await page('/v1/nope')).status).toBe(401);
    expect((await page('/healthz')).headers.get('content-type')).toContain('application/json');
    for (const p of ['/openapi.json', '/docs', '/metrics', '/admin/queues', '/readyz']) {
      expect((await page(p)).text, p).not.toContain('<div id="root">');
    }
    // A JSON client asking for an unknown path still gets problem+json.
    const json = await page('/nothing-here', 'application/json');
    expect(json.status).toBe(404);
    expect(json.headers.get('content-type')).toContain('application/problem+json');
  });

  it('when no dashboard is built, then the emailed link falls back to the API sign-in page', async () => {
    const r = await bare.call('GET', '/sign-in/verify?token=abcdefghijklmnopqrstuvwxyz');
    expect(r.status).toBe(302);
    expect(r.headers.get('location')).toBe('/v1/auth/verify?token=abcdefghijklmnopqrstuvwxyz');
    expect((await bare.call('GET', '/renders', { headers: { accept: 'text/html' } })).status).toBe(404);
  });
});
