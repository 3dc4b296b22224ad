/// <reference lib="dom" />
import { randomBytes } from 'node:crypto';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestApi } from '../../api/testing/api-harness.ts';
import { recordVerifiedBackup } from '../../shared/testing/backup-fixture.ts';
import { type FakeGoogle, startFakeGoogle } from '../../shared/testing/fake-google.ts';
import { type Dashboard, startDashboard } from './dashboard-kit.ts';

/**
 * YouTube in Chromium against the real API and worker, with the fake Google (OAuth consent,
 * token endpoint, resumable upload): on free, Connect and Publish show the upgrade message; on
 * pro, Connect goes through Google's consent back to the Account page, which says Connected, and
 * a succeeded render's Publish follows the publish job to its video link.
 */
const OWNER = 'youtube-owner@example.com';

let google: FakeGoogle;
let d: Dashboard;
let t: TestApi;
let page: Page;
let token: string;
let tenantId: string;
let renderId: string;

const setPlan = (plan: string) => t.env.db('tenants').update({ plan }).where({ id: tenantId });

beforeAll(async () => {
  google = await startFakeGoogle();
  d = await startDashboard({
    env: {
      ...google.env,
      INTEGRATIONS_ENCRYPTION_KEY: randomBytes(32).toString('hex'),
      EVENTS_PROGRESS_INTERVAL_MS: '0',
      JOB_BACKOFF_SCALE: '0.001',
    },
  });
  ({ t, page } = d);
  await d.signInByLink(OWNER);
  const s = await t.signIn(OWNER);
  token = s.access_token;
  tenantId = s.tenant.id;
  const submitted = await t.call<{ id: string }>('POST', '/v1/renders', {
    token,
    body: { scenes: [{ title: 'Publish me', duration: 0.5 }] },
  });
  expect(submitted.status, submitted.text).toBe(202);
  renderId = submitted.body.id;
}, 240_000);

afterAll(async () => {
  await d?.close();
  await google?.close();
});

describe('YouTube on the dashboard', () => {
  it('when the workspace is on free, then Connect and Publish say it needs a paid plan, with Upgrade', async () => {
    await expect
      .poll(
        async () => (await t.call<{ status: string }>('GET', `/v1/jobs/${renderId}`, { token })).body.status,
        {
          timeout: 120_000,
        },
      )
      .toBe('succeeded');
    await setPlan('free');
    await page.goto(`${d.base}/account`);
    await d.heading('Account').waitFor();
    await page.getByTestId('youtube-status').filter({ hasText: 'Not connected' }).waitFor();
    await page.getByRole('button', { name: 'Connect YouTube' }).click();
    const upgrade = page.getByRole('alert').filter({ hasText: 'needs a paid plan' });
    await upgrade.waitFor();
    expect(await upgrade.getByRole('link', { name: 'Upgrade' }).getAttribute('href')).toBe('/billing');
    await d.expectAccessible('the Account page with the upgrade message');

    await page.goto(`${d.base}/renders/${renderId}`);
    await page.getByLabel('Title').fill('Not on free');
    await page.getByRole('button', { name: 'Publish' }).click();
    await page.getByRole('alert').filter({ hasText: 'needs a paid plan' }).waitFor();
    expect(google.sessions.size).toBe(0);
    const jobs = await t.call<{ data: unknown[] }>('GET', '/v1/jobs?kind=publish', { token });
    expect(jobs.body.data).toEqual([]);
  });

  it("when an owner on pro connects through Google's consent and publishes the render, then the page links the video", async () => {
    await setPlan('pro');
    await page.goto(`${d.base}/account`);
    await page.getByTestId('youtube-status').filter({ hasText: 'Not connected' }).waitFor();
    await page.getByRole('button', { name: 'Connect YouTube' }).click();
    // The fake Google consents at once and sends the browser to the callback, which comes back here.
    await page.waitForURL((u) => u.pathname === '/account' && !u.search.includes('youtube='), {
      timeout: 30_000,
    });
    await page.getByRole('status').filter({ hasText: 'The YouTube channel is connected.' }).waitFor();
    await page
      .getByTestId('youtube-status')
      .filter({ hasText: /^Connected/ })
      .waitFor();
    await page.getByRole('button', { name: 'Disconnect YouTube' }).waitFor();
    expect(google.tokenRequests).toContainEqual(
      expect.objectContaining({ grant_type: 'authorization_code', ok: true }),
    );
    await d.expectAccessible('the Account page, connected');

    await page.goto(`${d.base}/renders/${renderId}`);
    await page.getByLabel('Title').fill('Our product in 30 seconds');
    await page.getByLabel('Description').fill('Made with Rendermill');
    await page.getByLabel('Privacy').selectOption('unlisted');
    await d.expectAccessible('the publish form');
    await page.getByRole('button', { name: 'Publish' }).click();
    const link = page.getByRole('status').filter({ hasText: 'Published:' }).getByRole('link');
    await link.waitFor({ timeout: 60_000 });
    await page.getByTestId('publish-status').filter({ hasText: 'succeeded' }).waitFor();
    expect(google.videos).toHaveLength(1);
    const video = google.videos[0];
    expect(await link.getAttribute('href')).toBe(`https://youtu.be/${video?.id}`);
    expect(JSON.stringify(video?.metadata)).toContain('Our product in 30 seconds');
    expect(JSON.stringify(video?.metadata)).toContain('unlisted');
    await d.expectAccessible('the job page with the published link');

    await page.getByRole('link', { name: /^job_/ }).first().click();
    await page
      .getByRole('status')
      .filter({ hasText: 'Published:' })
      .getByRole('link', { name: `https://youtu.be/${video?.id}` })
      .waitFor();
  });

  it("when the admin disconnects, Google's return carries an error, and a backup was verified, then the Account page says so", async () => {
    await page.goto(`${d.base}/account`);
    await page.getByTestId('last-backup').filter({ hasText: 'No verified backup yet.' }).waitFor();
    await page.getByRole('button', { name: 'Disconnect YouTube' }).click();
    await page.getByTestId('youtube-status').filter({ hasText: 'Not connected' }).waitFor();
    expect(google.revocations).toHaveLength(1);
    expect(
      (await t.call<{ connected: boolean }>('GET', '/v1/integrations/youtube', { token })).body.connected,
    ).toBe(false);

    await recordVerifiedBackup(t.env.db, 'bkp_20261202T030000Z_abcdef', '2026-12-02T03:00:00.000Z');
    await page.goto(`${d.base}/account?youtube=error&reason=access_denied`);
    await page.getByRole('alert').filter({ hasText: 'access was not granted' }).waitFor();
    await page.waitForURL((u) => u.pathname === '/account' && u.search === '');
    const backup = page.getByTestId('last-backup').locator('time');
    await backup.waitFor();
    expect(await backup.getAttribute('datetime')).toBe('2026-12-02T03:00:00.000Z');
    await d.expectAccessible('the Account page with an error return and the backup');
    await t.env.db('backups').del();
  });
});
