/// <reference lib="dom" />
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestApi } from '../../api/testing/api-harness.ts';
import { Rendermill } from '../../sdk/src/index.ts';
import { type Dashboard, startDashboard } from './dashboard-kit.ts';

/**
 * The dashboard's live updates, its limits and its key handling in Chromium, on a free plan of
 * 5 images (a render bills one image per scene drawn, so the meters move by whole numbers):
 * the Renders list and the job page follow a job from the event stream without re-reading it per
 * event; a 402 and a 403 show beside the fields they concern; the Images meter warns at 80 % and
 * offers Upgrade at 100 %; an API key is copied, rotated and (not) deleted after a confirmation.
 */
const OWNER = 'limits-owner@example.com';
const PLANS = {
  free: {
    limits: { render_seconds: 1000, tts_seconds: 1000, images: 5, storage_bytes: null },
    max_resolution: '1080p',
    overage: false,
  },
};

let d: Dashboard;
let t: TestApi;
let page: Page;
let token: string;

beforeAll(async () => {
  d = await startDashboard({
    plans: PLANS,
    env: { EVENTS_PROGRESS_INTERVAL_MS: '0' },
    permissions: ['clipboard-read', 'clipboard-write'],
  });
  ({ t, page } = d);
  await d.signInByLink(OWNER);
  token = (await t.signIn(OWNER)).access_token;
}, 240_000);

afterAll(async () => {
  await d?.close();
});

/** GET requests the page makes to `pathname` exactly (query strings allowed), from now on. */
function readsOf(pathname: string | RegExp): string[] {
  const seen: string[] = [];
  page.on('request', (r) => {
    const url = new URL(r.url());
    const hit = typeof pathname === 'string' ? url.pathname === pathname : pathname.test(url.pathname);
    if (r.method() === 'GET' && hit) seen.push(url.pathname + url.search);
  });
  return seen;
}

/**
 * Every event the API streams about `jobId` until it settles (a second subscriber, beside the
 * page's; it starts a second back, so nothing sent before it connected is missed).
 */
function eventsOf(rm: Rendermill, jobId: () => string | undefined, signal: AbortSignal): Promise<string[]> {
  return (async () => {
    const seen: Array<{ id: string | undefined; type: string }> = [];
    for await (const e of rm.events.stream({ since: `${Date.now() - 1000}-0`, signal })) {
      const id = (e as { data?: { job?: { id?: string } } }).data?.job?.id;
      seen.push({ id, type: e.type });
      if (id && id === jobId() && /^job\.(succeeded|failed|canceled)$/.test(e.type)) break;
    }
    return seen.filter((e) => e.id === jobId()).map((e) => e.type);
  })();
}

const scenes = (...titles: string[]) => titles.map((title) => ({ title, duration: 0.5 }));

/** Watches one progress bar's aria-valuenow for as long as the page lives. */
async function recordBar(label: string): Promise<void> {
  await page.evaluate((l) => {
    const w = window as unknown as { bars: Record<string, number[]> };
    w.bars ??= {};
    const seen: number[] = [];
    w.bars[l] = seen;
    const record = () => {
      const bar = document.querySelector(`[role="progressbar"][aria-label="${l}"]`);
      const v = bar ? Number(bar.getAttribute('aria-valuenow')) : Number.NaN;
      if (bar && seen.at(-1) !== v) seen.push(v);
    };
    record();
    new MutationObserver(record).observe(document.body, { subtree: true, childList: true, attributes: true });
  }, label);
}
const barValues = (label: string) =>
  page.evaluate((l) => (window as unknown as { bars: Record<string, number[]> }).bars[l] ?? [], label);

const imagesMeter = () => page.getByRole('region', { name: 'Usage' }).locator('li', { hasText: 'Images' });

describe('the dashboard live, at its limits, and with keys', () => {
  it('when a job runs, then the Renders list follows it from the event stream without re-reading the list per event', async () => {
    await d.heading('Renders').waitFor();
    await page.getByText('No jobs yet.').waitFor();
    const listReads = readsOf('/v1/jobs');
    let jobId: string | undefined;
    const ctl = new AbortController();
    const events = eventsOf(new Rendermill({ baseUrl: d.base, accessToken: token }), () => jobId, ctl.signal);

    const submitted = await t.call('POST', '/v1/renders', {
      token,
      body: { scenes: scenes('One', 'Two', 'Three', 'Four') },
    });
    expect(submitted.status, submitted.text).toBe(202);
    jobId = (submitted.body as { id: string }).id;
    const row = page.getByRole('row').filter({ has: page.getByRole('link', { name: jobId }) });
    await row.waitFor();
    await recordBar(`Progress of ${jobId}`);
    await row.getByRole('cell', { name: 'succeeded', exact: true }).waitFor({ timeout: 120_000 });
    const types = await events;
    ctl.abort();

    // Many events, few reads: the new job (queued) and its end (succeeded) re-read the list once each.
    expect(types).toEqual(expect.arrayContaining(['job.started', 'job.step.succeeded', 'job.succeeded']));
    expect(types.length).toBeGreaterThanOrEqual(5);
    expect(listReads.length, `reads: ${listReads.join(' ')}; events: ${types.join(' ')}`).toBeLessThanOrEqual(
      2,
    );
    const bar = await barValues(`Progress of ${jobId}`);
    expect(bar.at(-1)).toBe(100);
    expect(
      bar.every((v, i) => i === 0 || v >= (bar[i - 1] ?? 0)),
      `progress ${bar.join(',')}`,
    ).toBe(true);

    // Four images of five, reserved then used: the meter warns, live, without a reload.
    await expect.poll(() => imagesMeter().locator('meter').getAttribute('data-used')).toBe('4');
    await imagesMeter().getByText('80 % of the limit used').waitFor();
    expect(await imagesMeter().getByRole('link', { name: 'Upgrade' }).count()).toBe(0);
    await d.expectAccessible('Renders with a quota warning');
  }, 180_000);

  it('when the API answers 402 or 403, then the form shows it beside the scenes or the resolution and makes no job', async () => {
    await page.getByRole('link', { name: 'New render' }).first().click();
    await d.heading('New render').waitFor();
    await page.getByLabel('Scenes (JSON)').fill(JSON.stringify(scenes('Five', 'Six')));

    // Two images asked, one left: 402, beside the scenes.
    await page.getByRole('button', { name: 'Render', exact: true }).click();
    const quota = page.locator('#err-scenes');
    await quota.waitFor();
    expect(await quota.textContent()).toMatch(/Quota exceeded for Images: 2 requested, 1 left of 5/);
    expect(await quota.getAttribute('role')).toBe('alert');

    // 2160p is above the free plan: 403, beside Resolution and linked to it.
    await page.getByLabel('Scenes (JSON)').fill(JSON.stringify(scenes('Five')));
    const resolution = page.getByLabel('Resolution');
    await resolution.selectOption('2160p');
    await page.getByRole('button', { name: 'Render', exact: true }).click();
    await page.waitForFunction(
      () => document.querySelector('#resolution')?.getAttribute('aria-invalid') === 'true',
    );
    const describedBy = await resolution.getAttribute('aria-describedby');
    expect(await page.locator(`#${describedBy}`).textContent()).toMatch(/2160p renders need the .+ plan/);
    expect(await quota.count()).toBe(0);
    expect(Number((await t.env.db('jobs').count({ n: '*' }))[0]?.n)).toBe(1);
    await d.expectAccessible('New render with errors');
  }, 60_000);

  it('when a job runs on its page, then status and progress come from the event stream, and the meter reaches its limit with Upgrade', async () => {
    await page.getByLabel('Resolution').selectOption('720p');
    const jobReads = readsOf(/^\/v1\/jobs\/job_[^/]+$/);
    await page.getByRole('button', { name: 'Render', exact: true }).click();
    await page.waitForURL(/\/renders\/job_/);
    const jobId = new URL(page.url()).pathname.split('/').pop() ?? '';
    await d.heading(`Render ${jobId}`).waitFor();
    await recordBar('Overall progress');
    await page.getByTestId('job-status').filter({ hasText: 'succeeded' }).waitFor({ timeout: 120_000 });
    await page.locator('video').waitFor();

    // The page read the job when it opened and once when it settled; the rest came as events.
    expect(jobReads.length, jobReads.join(' ')).toBeLessThanOrEqual(2);
    const bar = await barValues('Overall progress');
    expect(bar.at(-1)).toBe(100);
    expect(
      bar.every((v, i) => i === 0 || v >= (bar[i - 1] ?? 0)),
      `progress ${bar.join(',')}`,
    ).toBe(true);
    for (const step of await page.getByRole('progressbar', { name: /^Step / }).all())
      expect(await step.getAttribute('aria-valuenow')).toBe('100');

    // Five of five on a hard-limit plan: the warning becomes Limit reached, with Upgrade.
    await expect.poll(() => imagesMeter().locator('meter').getAttribute('data-used')).toBe('5');
    await imagesMeter().getByText('Limit reached').waitFor();
    const upgrade = imagesMeter().getByRole('link', { name: 'Upgrade' });
    expect(await upgrade.getAttribute('href')).toBe('/billing');
    expect(await imagesMeter().getByText('% of the limit used').count()).toBe(0);
    await d.expectAccessible('the job page at the limit');
  }, 180_000);

  it('when an admin copies, rotates and deletes a key, then each asks first and the secret is shown once with a warning', async () => {
    await page.getByRole('link', { name: 'API keys' }).click();
    await d.heading('API keys').waitFor();
    await page.getByLabel('Name').fill('deploy key');
    await page.getByRole('button', { name: 'Create key' }).click();
    const first = await page.getByLabel('Secret key').inputValue();
    await page.getByText('it is shown only once').waitFor();
    await page.getByRole('button', { name: 'Copy' }).click();
    await page.getByText('Copied.').waitFor();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(first);
    expect((await d.curl('/v1/usage', first)).status).toBe(200);

    // Rotate, declined: nothing changes.
    page.once('dialog', (dialog) => {
      expect(dialog.message()).toMatch(/Rotate “deploy key”\?/);
      void dialog.dismiss();
    });
    await page.getByRole('button', { name: 'Rotate deploy key' }).click();
    expect((await d.curl('/v1/usage', first)).status).toBe(200);

    // Rotate, confirmed: a new secret, once; the old one stops.
    d.confirmNextDialog();
    await page.getByRole('button', { name: 'Rotate deploy key' }).click();
    await expect.poll(() => page.getByLabel('Secret key').inputValue()).not.toBe(first);
    const second = await page.getByLabel('Secret key').inputValue();
    expect(second).toMatch(/^rm_live_/);
    await page.getByRole('cell', { name: second.slice(-4), exact: true }).waitFor();
    expect((await d.curl('/v1/usage', first)).status).toBe(401);
    expect((await d.curl('/v1/usage', second)).status).toBe(200);
    await d.expectAccessible('API keys after a rotation');

    // Leaving the page forgets the secret: it is not shown again.
    await page.getByRole('link', { name: 'Renders', exact: true }).click();
    await page.getByRole('link', { name: 'API keys' }).click();
    await page.getByRole('button', { name: 'Delete deploy key' }).waitFor();
    expect(await page.getByLabel('Secret key').count()).toBe(0);

    // Delete, declined: the key still works.
    page.once('dialog', (dialog) => {
      expect(dialog.message()).toMatch(/Delete “deploy key”\?/);
      void dialog.dismiss();
    });
    await page.getByRole('button', { name: 'Delete deploy key' }).click();
    expect((await d.curl('/v1/usage', second)).status).toBe(200);
    expect(await page.getByRole('button', { name: 'Delete deploy key' }).count()).toBe(1);
    expect(d.browser.cspViolations).toEqual([]);
  }, 60_000);
});
