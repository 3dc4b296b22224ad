/// <reference lib="dom" />
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestApi } from '../../api/testing/api-harness.ts';
import { type FakeFreshdesk, startFakeFreshdesk } from '../../shared/testing/fake-freshdesk.ts';
import { present } from '../../shared/testing/present.ts';
import { unreachableByKeyboard } from './browser.ts';
import { type Dashboard, startDashboard } from './dashboard-kit.ts';

/**
 * The bell, Support and Account in Chromium against the real API and worker: a quota
 * notification (the worker's usage alert at 80 % of 5 images) appears in the bell live and links
 * to the usage; a ticket reaches a fake Freshdesk exactly once although its first create answers
 * 500; a failed job's notification leads to its page, whose Report a problem sends a ticket
 * naming it; the workspace is renamed; the data export is followed to its download; a deletion is
 * refused without a recent sign-in, then scheduled with its countdown, and canceled.
 */
const OWNER = 'bell-owner@example.com';
const PLANS = {
  free: {
    limits: { render_seconds: 1000, tts_seconds: 1000, images: 5, storage_bytes: null },
    max_resolution: '1080p',
    overage: false,
  },
};
const GRACE_SECONDS = 3600;

let fd: FakeFreshdesk;
let d: Dashboard;
let t: TestApi;
let page: Page;
let token: string;
let userId: string;
let tenantId: string;

beforeAll(async () => {
  fd = await startFakeFreshdesk();
  d = await startDashboard({
    plans: PLANS,
    env: {
      EVENTS_PROGRESS_INTERVAL_MS: '0',
      FRESHDESK_DOMAIN: fd.url,
      FRESHDESK_API_KEY: fd.apiKey,
      FRESHDESK_TIMEOUT_SECONDS: '2',
      JOB_BACKOFF_SCALE: '0.001',
      // The test runs the usage alert itself, when the usage is there.
      SCHEDULER_ENABLED: 'false',
      ACCOUNT_DELETION_GRACE_SECONDS: String(GRACE_SECONDS),
    },
  });
  ({ t, page } = d);
  await d.signInByLink(OWNER);
  const s = await t.signIn(OWNER);
  token = s.access_token;
  userId = s.user.id;
  tenantId = s.tenant.id;
}, 240_000);

afterAll(async () => {
  await d?.close();
  await fd?.close();
});

const unread = (n: number) => page.getByTestId('unread-count').filter({ hasText: new RegExp(`^${n}$`) });

/** GET requests the page makes to `pathname`, from now on. */
function readsOf(pathname: string): string[] {
  const seen: string[] = [];
  page.on('request', (r) => {
    const url = new URL(r.url());
    if (r.method() === 'GET' && url.pathname === pathname) seen.push(url.pathname + url.search);
  });
  return seen;
}

describe('the bell, Support and Account', () => {
  it('when the worker finds 80 % of the images used, then the bell counts it live and links to the usage', async () => {
    await unread(0).waitFor();
    const feedReads = readsOf('/v1/notifications');
    const r = await t.call<{ id: string }>('POST', '/v1/renders', {
      token,
      body: { scenes: ['One', 'Two', 'Three', 'Four'].map((title) => ({ title, duration: 0.5 })) },
    });
    expect(r.status, r.text).toBe(202);
    const renderId = r.body.id;
    await expect
      .poll(
        async () => (await t.call<{ status: string }>('GET', `/v1/jobs/${renderId}`, { token })).body.status,
        {
          timeout: 120_000,
          interval: 250,
        },
      )
      .toBe('succeeded');
    const readsBefore = feedReads.length;

    // The real path: the worker's usage alert (as its scheduler would run it) notifies the admins.
    await t.api.deps.producer.queue('maintenance').add('usage.alert', {});
    await unread(1).waitFor({ timeout: 30_000 });
    // One read for the one notification.created event: the bell does not poll.
    expect(feedReads.length - readsBefore).toBeLessThanOrEqual(2);

    await page.getByTestId('bell').click();
    const panel = page.getByRole('region', { name: 'Notifications' });
    const link = panel.getByRole('link', { name: '80 % of your images quota used' });
    await link.waitFor();
    await panel.getByText('You have used 4 of 5 this period.').waitFor();
    await d.expectAccessible('the open bell');
    await page.screenshot({ path: path.join(d.shots, 'bell.png') });
    await link.click();
    await page.waitForURL(`${d.base}/usage`);
    await unread(0).waitFor();
    const rows = await t.env.db('notifications').where({ tenant_id: tenantId, user_id: userId });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ type: 'usage.threshold_reached', link: '/usage' });
    expect(present(rows[0]).read_at).toBeInstanceOf(Date);
  }, 180_000);

  it('when a ticket is sent from the Support page and Freshdesk first answers 500, then it arrives there exactly once', async () => {
    await page.getByRole('link', { name: 'Support' }).click();
    await d.heading('Support').waitFor();
    await page.getByText('No tickets yet.').waitFor();
    await d.expectAccessible('the Support page');

    fd.faults.push({ kind: 'fail', status: 500 });
    const postsBefore = fd.requests.filter((x) => x.method === 'POST').length;
    await page.getByLabel('Subject').fill('The export is slow');
    await page.getByLabel('Message').fill('It took a while.\nIs that expected?');
    await page.getByRole('button', { name: 'Send' }).click();
    await page.getByRole('status').filter({ hasText: 'is on its way to support' }).waitFor();
    const row = page.getByRole('row').filter({ hasText: 'The export is slow' });
    await row.getByText('Received by support').waitFor({ timeout: 30_000 });

    expect(fd.faults).toHaveLength(0);
    const created = fd.tickets.filter((x) => x.subject.includes('The export is slow'));
    expect(created).toHaveLength(1);
    expect(created[0]?.email).toBe(OWNER);
    expect(await row.getByTestId('helpdesk-id').textContent()).toBe(String(created[0]?.id));
    // The 500, then the create that worked (and possibly a lookup before it, never a second ticket).
    expect(fd.requests.filter((x) => x.method === 'POST').length - postsBefore).toBeGreaterThanOrEqual(2);
    await d.expectAccessible('the Support page with a ticket');
    expect(await unreachableByKeyboard(page), 'Support by keyboard').toEqual([]);
    await page.screenshot({ path: path.join(d.shots, 'support.png'), fullPage: true });
  }, 60_000);

  it('when an admin renames the workspace, then the header shows the new name', async () => {
    await page.getByRole('link', { name: 'Account' }).click();
    await d.heading('Account').waitFor();
    await d.expectAccessible('the Account page');
    await page.getByLabel('Workspace name', { exact: true }).fill('Bell Studio');
    await page.getByRole('button', { name: 'Rename' }).click();
    await page
      .locator('.who')
      .getByText(/Bell Studio/)
      .waitFor();
    expect(present(await t.env.db('tenants').where({ id: tenantId }).first()).name).toBe('Bell Studio');
  });

  it('when the data is exported, then its progress ends in a download link with an expiry, and the ZIP downloads', async () => {
    await page.getByRole('button', { name: 'Export my data' }).click();
    const link = page.getByRole('link', { name: 'Download the export' });
    await link.waitFor({ timeout: 60_000 });
    expect(await page.getByTestId('export-status').textContent()).toBe('succeeded');
    expect(
      await page.getByRole('progressbar', { name: 'Export progress' }).getAttribute('aria-valuenow'),
    ).toBe('100');
    await page.getByText(/the link expires at/).waitFor();
    const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
    const file = path.join(d.tmp, 'export.zip');
    await download.saveAs(file);
    expect((await readFile(file)).subarray(0, 2).toString('latin1')).toBe('PK');
    // The requester is told in the bell too (export.ready).
    await unread(1).waitFor();
    await d.expectAccessible('the Account page with an export');
  }, 90_000);

  it('when the owner deletes the account, then a stale sign-in is explained, a fresh one schedules it with a countdown, and Cancel deletion stops it', async () => {
    const button = page.getByRole('button', { name: 'Delete account' });
    await page.getByLabel(/Type the workspace name/).fill('Bell');
    expect(await button.isDisabled()).toBe(true);
    await page.getByLabel(/Type the workspace name/).fill('Bell Studio');

    // The browser's session signed in by link a while ago (as far as the API can tell).
    await t.env
      .db('sessions')
      .where({ user_id: userId })
      .update({ authenticated_at: new Date(Date.now() - 3_600_000) });
    await button.click();
    await page.getByRole('alert').filter({ hasText: 'needs a recent sign-in' }).waitFor();
    await t.env.db('sessions').where({ user_id: userId }).update({ authenticated_at: new Date() });

    await button.click();
    await page.getByTestId('deletion-scheduled').waitFor();
    expect(await page.getByTestId('deletion-countdown').textContent()).toMatch(
      /^in (59|60) min \d+ s$|^in 1 h 0 min$/,
    );
    // Everyone is told, the owner too: the bell counts it without a reload.
    await unread(2).waitFor();
    await d.expectAccessible('the Account page with a deletion scheduled');
    expect(await unreachableByKeyboard(page), 'Account by keyboard').toEqual([]);
    await page.screenshot({ path: path.join(d.shots, 'account.png'), fullPage: true });

    // The date is the API's, not the page's memory.
    await page.reload();
    await page.getByTestId('deletion-scheduled').waitFor();
    const tenant = present(await t.env.db('tenants').where({ id: tenantId }).first());
    expect(
      Math.abs(present(tenant.deletion_scheduled_for).getTime() - (Date.now() + GRACE_SECONDS * 1000)),
    ).toBeLessThan(60_000);

    await page.getByRole('button', { name: 'Cancel deletion' }).click();
    await page.getByLabel(/Type the workspace name/).waitFor();
    await unread(3).waitFor();
    expect(
      present(await t.env.db('tenants').where({ id: tenantId }).first()).deletion_scheduled_for,
    ).toBeNull();
    const job = present(await t.env.db('jobs').where({ tenant_id: tenantId, kind: 'deletion' }).first());
    expect(job.status).toBe('canceled');

    await page.getByTestId('bell').click();
    await page.getByRole('button', { name: 'Mark all read' }).click();
    await unread(0).waitFor();
    await page.keyboard.press('Escape');
  }, 60_000);

  it('when a job fails, then the bell links to it, and Report a problem on its page sends a ticket naming the job', async () => {
    const r = await t.call<{ id: string }>('POST', '/v1/renders', {
      token,
      body: { scenes: [{ text: 'No such voice.' }], voice: 'zz-none' },
    });
    expect(r.status, r.text).toBe(202);
    const jobId = r.body.id;
    await unread(1).waitFor({ timeout: 60_000 });
    await page.getByTestId('bell').click();
    await page
      .getByRole('region', { name: 'Notifications' })
      .getByRole('link', { name: 'A render job failed' })
      .click();
    await page.waitForURL(`${d.base}/jobs/${jobId}`);
    await page.getByTestId('job-status').filter({ hasText: 'failed' }).waitFor();
    await unread(0).waitFor();

    await page.getByRole('link', { name: 'Report a problem' }).click();
    await d.heading('Support').waitFor();
    expect(await page.getByLabel('Job (optional)').inputValue()).toBe(jobId);
    await page.getByLabel('Message').fill('This render failed and I do not know why.');
    await page.getByRole('button', { name: 'Send' }).click();
    const row = page.getByRole('row').filter({ has: page.getByRole('link', { name: jobId }) });
    await row.getByText('Received by support').waitFor({ timeout: 30_000 });
    const ticket = await t.env.db('support_tickets').where({ tenant_id: tenantId, job_id: jobId }).first();
    expect(ticket).toMatchObject({ subject: 'Problem with a job', status: 'delivered' });
    const inFreshdesk = fd.tickets.filter((x) => x.description.includes(jobId));
    expect(inFreshdesk).toHaveLength(1);
  }, 90_000);
});
