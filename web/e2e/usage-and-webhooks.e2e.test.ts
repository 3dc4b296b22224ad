/// <reference lib="dom" />
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestApi } from '../../api/testing/api-harness.ts';
import { newId } from '../../shared/ids/ids.ts';
import { recordUsage } from '../../shared/metering/usage-ledger.ts';
import { unreachableByKeyboard } from './browser.ts';
import { type Dashboard, startDashboard } from './dashboard-kit.ts';

/**
 * The Usage and Webhooks pages in Chromium, against the real API and worker. Usage: the charts
 * add up to the ledger of this period and the previous one, the ledger pages by cursor and
 * filters by date, and Download CSV answers the free plan's 403 then, on pro, the file. Webhooks:
 * a local receiver (on 127.0.0.1, allowed by FETCH_ALLOW_PRIVATE) takes the default endpoint's
 * deliveries; it fails until told otherwise, so the log shows every attempt, and Replay delivers.
 */
const OWNER = 'hooks-owner@example.com';

interface Received {
  headers: http.IncomingHttpHeaders;
  body: string;
}

let d: Dashboard;
let t: TestApi;
let page: Page;
let receiver: http.Server;
let hookUrl: string;
let failing = true;
const received: Received[] = [];
let tenantId: string;
let token: string;

beforeAll(async () => {
  receiver = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => {
      body += c.toString('utf8');
    });
    req.on('end', () => {
      received.push({ headers: req.headers, body });
      res
        .writeHead(failing ? 500 : 200, { 'content-type': 'text/plain' })
        .end(failing ? 'boom: receiver down' : 'ok');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  d = await startDashboard({ env: { FETCH_ALLOW_PRIVATE: '127.0.0.1', JOB_BACKOFF_SCALE: '0.001' } });
  ({ t, page } = d);
  await d.signInByLink(OWNER);
  const signedIn = await t.signIn(OWNER);
  token = signedIn.access_token;
  tenantId = signedIn.tenant.id;
}, 240_000);

afterAll(async () => {
  await d?.close();
  await new Promise((resolve) => receiver?.close(resolve));
});

const chart = (metric: string) => page.locator(`figure.chart[data-metric="${metric}"]`);

describe('Usage and Webhooks in Chromium', () => {
  it('when a tenant has usage this period and the last, then the charts add up to the ledger, which pages, filters and downloads', async () => {
    // Last period: 21 rows of 1 render second on 21 different days (a job of last month each).
    const now = new Date();
    const lastMonth = (day: number) =>
      new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, day + 1, 12));
    await t.env.db.transaction((trx) =>
      recordUsage(
        trx,
        Array.from({ length: 21 }, (_, i) => ({
          tenantId,
          jobId: newId('job'),
          step: 'compose',
          metric: 'render_seconds' as const,
          quantity: 1,
          occurredAt: lastMonth(i),
        })),
      ),
    );
    // This period: a real render.
    const submitted = await t.call('POST', '/v1/renders', {
      token,
      body: { scenes: [{ title: 'Usage page', duration: 1 }] },
    });
    expect(submitted.status, submitted.text).toBe(202);
    const jobId = (submitted.body as { id: string }).id;
    await expect
      .poll(async () => (await t.call('GET', `/v1/jobs/${jobId}`, { token })).body.status, {
        timeout: 120_000,
      })
      .toBe('succeeded');
    const usage = (await t.call('GET', '/v1/usage', { token })).body as {
      period: { start: string };
      metrics: Record<string, { used: number }>;
    };
    const thisPeriod = (
      await t.call('GET', `/v1/usage/events?limit=1000&from=${usage.period.start}`, { token })
    ).body as { data: Array<{ id: string }> };

    await page.getByRole('link', { name: 'Usage', exact: true }).click();
    await d.heading('Usage').waitFor();
    await chart('render_seconds').waitFor();
    expect(Number(await chart('render_seconds').getAttribute('data-previous'))).toBe(21);
    expect(Number(await chart('render_seconds').getAttribute('data-current'))).toBeCloseTo(
      usage.metrics.render_seconds?.used ?? -1,
      2,
    );
    expect(Number(await chart('images').getAttribute('data-current'))).toBe(usage.metrics.images?.used);
    expect(await chart('render_seconds').locator('rect.bar-previous').count()).toBe(21);
    expect(await chart('render_seconds').locator('rect.bar-current').count()).toBe(1);
    expect(await chart('render_seconds').locator('figcaption').textContent()).toMatch(
      /Render seconds by day: .+ this period, 21 s the previous period/,
    );

    // The ledger: 20 a page, then the cursor.
    const total = thisPeriod.data.length + 21;
    const ledgerRows = page.locator('table:has(caption:text("Usage ledger")) tbody tr');
    await expect.poll(() => ledgerRows.count()).toBe(20);
    await page.getByRole('button', { name: 'Load more' }).click();
    await expect.poll(() => ledgerRows.count()).toBe(total);
    expect(await page.getByRole('button', { name: 'Load more' }).count()).toBe(0);
    await page.getByRole('link', { name: jobId }).first().waitFor();
    await d.expectAccessible('Usage');
    expect(await unreachableByKeyboard(page), 'Usage by keyboard').toEqual([]);
    await page.screenshot({ path: path.join(d.shots, 'usage.png'), fullPage: true });

    // From today on: only this period's rows.
    await page.getByLabel('From').fill(now.toISOString().slice(0, 10));
    await expect.poll(() => ledgerRows.count()).toBe(thisPeriod.data.length);

    // The free plan has no CSV export: the API's 403, with the way to upgrade.
    await page.getByLabel('From').fill('');
    await page.getByRole('button', { name: 'Download CSV' }).click();
    const refused = page.getByRole('alert').filter({ hasText: 'usage_export needs the' });
    await refused.waitFor();
    expect(await refused.getByRole('link', { name: 'Upgrade' }).getAttribute('href')).toBe('/billing');

    // On pro it downloads the whole ledger.
    await t.env.db('tenants').where({ id: tenantId }).update({ plan: 'pro' });
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Download CSV' }).click(),
    ]);
    const file = path.join(d.tmp, 'usage.csv');
    await download.saveAs(file);
    const lines = (await readFile(file, 'utf8')).trimEnd().split('\r\n');
    expect(lines[0]).toBe('id,occurred_at,job_id,step,metric,quantity,reported_at');
    expect(lines.length).toBe(total + 1);
    expect(lines.some((l) => l.includes(jobId))).toBe(true);
    expect(d.browser.cspViolations).toEqual([]);
  }, 240_000);

  it('when an admin sets the endpoint, rotates the secret and sends a test event to a failing receiver, then the log shows every attempt and Replay delivers it', async () => {
    await page.getByRole('link', { name: 'Webhooks' }).click();
    await d.heading('Webhooks').waitFor();
    await page.getByText('none set').waitFor();
    expect(await page.getByRole('button', { name: 'Send test event' }).isDisabled()).toBe(true);
    await page.getByText('No deliveries.').waitFor();
    await d.expectAccessible('Webhooks (empty)');

    // Set, refused with the API's reason beside the field; then set and change.
    const url = page.getByLabel('Endpoint URL');
    await url.fill('ftp://example.com/hook');
    await page.getByRole('button', { name: 'Set endpoint' }).click();
    await page.locator('#endpoint-url-error').filter({ hasText: /http/ }).waitFor();
    expect(await url.getAttribute('aria-describedby')).toBe('endpoint-url-error');
    await url.fill(`${hookUrl}-old`);
    await page.getByRole('button', { name: 'Set endpoint' }).click();
    await page
      .getByTestId('endpoint-url')
      .filter({ hasText: `${hookUrl}-old` })
      .waitFor();
    await url.fill(hookUrl);
    await page.getByRole('button', { name: 'Change endpoint' }).click();
    await page
      .getByTestId('endpoint-url')
      .filter({ hasText: new RegExp(`${hookUrl}$`) })
      .waitFor();

    // The secret: hidden until revealed; rotation keeps the old one signing for the overlap.
    const secret = page.getByLabel('Secret', { exact: true });
    expect(await secret.inputValue()).not.toMatch(/^whsec_/);
    await page.getByRole('button', { name: 'Reveal' }).click();
    await expect.poll(() => secret.inputValue()).toMatch(/^whsec_/);
    const before = await secret.inputValue();
    expect((await t.call('GET', '/v1/webhook-secret', { token })).body.secret).toBe(before);
    await page.getByLabel('Old secret keeps signing for').selectOption('3600');
    d.confirmNextDialog();
    await page.getByRole('button', { name: 'Rotate secret' }).click();
    await page.getByRole('status').filter({ hasText: 'The previous secret also signs until' }).waitFor();
    const after = await secret.inputValue();
    expect(after).toMatch(/^whsec_/);
    expect(after).not.toBe(before);

    // A test event to a receiver that answers 500: every attempt is logged, then it fails.
    await page.getByRole('button', { name: 'Send test event' }).click();
    const row = page.locator('tr[data-delivery]').first();
    await row.getByTestId('delivery-status').filter({ hasText: 'failed' }).waitFor({ timeout: 60_000 });
    expect(received.length).toBe(8);
    const ids = new Set(received.map((r) => r.headers['webhook-id']));
    expect(ids.size).toBe(1);
    // Signed with both secrets during the overlap.
    expect(String(received[0]?.headers['webhook-signature']).split(' ')).toHaveLength(2);
    expect(await row.textContent()).toMatch(/webhook\.test.*failed \(HTTP 500\)/);
    await row.getByText('8 attempts').click();
    const attempts = row.locator('table.attempts tbody tr');
    expect(await attempts.count()).toBe(8);
    expect(await attempts.first().textContent()).toMatch(/500\d+ msboom: receiver down/);
    await d.expectAccessible('Webhooks (a failed delivery)');
    expect(await unreachableByKeyboard(page), 'Webhooks by keyboard').toEqual([]);
    await page.getByRole('button', { name: 'Hide' }).click();
    expect(await secret.inputValue()).not.toMatch(/^whsec_/);
    await page.screenshot({ path: path.join(d.shots, 'webhooks.png'), fullPage: true });

    // Filters by status and event type.
    const status = page.getByLabel('Status');
    const eventType = page.getByLabel('Event type');
    await status.selectOption('delivered');
    await page.getByText('No deliveries.').waitFor();
    await status.selectOption('failed');
    await row.waitFor();
    await eventType.selectOption('job.succeeded');
    await page.getByText('No deliveries.').waitFor();
    await eventType.selectOption('webhook.test');
    await row.waitFor();
    await status.selectOption('');
    await eventType.selectOption('');

    // The receiver is back: Replay delivers the same event (same webhook-id) once more.
    failing = false;
    await row.getByRole('button', { name: /^Replay/ }).click();
    await row.getByTestId('delivery-status').filter({ hasText: 'delivered' }).waitFor({ timeout: 30_000 });
    expect(received.length).toBe(9);
    expect(received[8]?.headers['webhook-id']).toBe([...ids][0]);
    expect(await row.textContent()).toMatch(/delivered \(HTTP 200\)/);

    // Remove, after a confirmation.
    d.confirmNextDialog();
    await page.getByRole('button', { name: 'Remove endpoint' }).click();
    await page.getByText('none set').waitFor();
    expect((await t.call('GET', '/v1/webhook-endpoint', { token })).status).toBe(404);
    expect(d.browser.cspViolations).toEqual([]);
  }, 180_000);
});
