import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALL_QUEUES } from '../../../shared/queue/queues.ts';
import { start } from '../../main.ts';
import { startTestApi, type TestApi } from '../../testing/api-harness.ts';

const OPS_TOKEN = 'ops-token-for-tests-0123456789';
const basic = (password: string) => `Basic ${Buffer.from(`ops:${password}`).toString('base64')}`;

let t: TestApi;
beforeAll(async () => {
  t = await startTestApi({ OPS_TOKEN, FAIR_SHARE: 'false' }); // submitted jobs go straight to BullMQ
});
afterAll(async () => {
  await t.close();
});

describe('queue dashboard', () => {
  it('when an operator opens /admin/queues, then it asks for credentials and serves the dashboard with them', async () => {
    const anonymous = await t.call('GET', '/admin/queues');
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toContain('Basic');
    expect(
      (
        await t.call('GET', '/admin/queues', {
          headers: { authorization: basic('wrong-password-xxxxxxxxxx') },
        })
      ).status,
    ).toBe(401);
    // a tenant's access token is not an operator credential
    const s = await t.signIn('not-an-operator@example.com');
    expect((await t.call('GET', '/admin/queues', { token: s.access_token })).status).toBe(401);

    const page = await t.call('GET', '/admin/queues', { headers: { authorization: basic(OPS_TOKEN) } });
    expect(page.status).toBe(200);
    expect(page.text).toContain('Rendermill queues');
  });

  it('when the dashboard API lists queues, then it shows every Rendermill queue with a job submitted through the API', async () => {
    const s = await t.signIn('dash@example.com');
    const r = await t.call('POST', '/v1/images', {
      token: s.access_token,
      body: { title: 'queued', width: 64, height: 64 },
    });
    expect(r.status).toBe(202);
    const list = await t.call<{ queues: Array<{ name: string; counts: Record<string, number> }> }>(
      'GET',
      '/admin/queues/api/queues',
      {
        headers: { authorization: basic(OPS_TOKEN) },
      },
    );
    expect(list.status).toBe(200);
    const names = list.body.queues.map((q) => q.name).sort();
    // Every queue of the contract, and the long-standing ones by name (a queue dropped by mistake fails too).
    expect(names).toEqual([...ALL_QUEUES].sort());
    expect(names).toEqual(expect.arrayContaining(['account', 'callbacks', 'maintenance', 'media', 'render']));
    const media = list.body.queues.find((q) => q.name === 'media')!;
    expect(Object.values(media.counts).reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(1);
  });

  it('when OPS_TOKEN is unset, then there is no dashboard (404)', async () => {
    const other = await start(t.env.configWith({ OPS_TOKEN: '' }));
    try {
      const res = await fetch(`${other.url}/admin/queues`, { headers: { authorization: basic(OPS_TOKEN) } });
      expect(res.status).toBe(404);
    } finally {
      await other.stop();
    }
  });
});
