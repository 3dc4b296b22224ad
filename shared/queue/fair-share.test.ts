import { randomBytes } from 'node:crypto';
import { Queue } from 'bullmq';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createRedis, type RedisClient } from '../redis/redis.ts';
import { deleteKeys, TEST_REDIS_URL } from '../testing/test-env.ts';
import { createFairShare, type FairEntry, type FairShare, weightOfPriority } from './fair-share.ts';
import { bullPrefix } from './queues.ts';

const redis: RedisClient = createRedis(TEST_REDIS_URL);
const plain = createRedis(TEST_REDIS_URL);
let prefix: string;
let fair: FairShare;

beforeEach(() => {
  prefix = `rmtest_fair_${randomBytes(4).toString('hex')}`;
  fair = createFairShare(redis, prefix);
});
afterEach(async () => {
  await deleteKeys(plain as never, `${prefix}:*`);
});
afterAll(() => {
  redis.disconnect();
  plain.disconnect();
});

const entry = (tenantId: string, i: number, weight = 1): FairEntry => ({
  jobId: `job_${tenantId}_${i}`,
  tenantId,
  name: 'render.run',
  priority: 0,
  weight,
});

async function fill(tenantId: string, n: number, weight = 1) {
  for (let i = 0; i < n; i++) await fair.enqueue('render', entry(tenantId, i, weight));
}

async function pickAll(step = 1): Promise<string[]> {
  const out: string[] = [];
  for (;;) {
    const got = await fair.pick('render', step);
    if (!got.length) return out;
    out.push(...got.map((e) => e.tenantId));
  }
}

describe('fair share (deficit round-robin over per-tenant lists)', () => {
  it('when a tenant with 200 queued jobs is joined by four with 10 each, then each of the five gets every fifth job while all have work', async () => {
    await fill('A', 200);
    for (const t of ['B', 'C', 'D', 'E']) await fill(t, 10);
    const order = await pickAll(3);
    expect(order).toHaveLength(240);
    // The first 50 picks: 10 of each tenant, A included.
    const first = order.slice(0, 50);
    for (const t of ['A', 'B', 'C', 'D', 'E']) expect(first.filter((x) => x === t)).toHaveLength(10);
    // And no tenant ever waits more than one round for its next job while it has work.
    for (let i = 0; i + 5 <= 50; i += 5) expect(new Set(order.slice(i, i + 5)).size).toBe(5);
  });

  it('when tenants have different plan priorities, then they are served in proportion to their weights', async () => {
    expect([weightOfPriority(10), weightOfPriority(5), weightOfPriority(1), weightOfPriority(0)]).toEqual([
      1, 2, 10, 1,
    ]);
    await fill('free', 100, weightOfPriority(10));
    await fill('pro', 100, weightOfPriority(5));
    const first = (await pickAll(1)).slice(0, 60);
    expect(first.filter((t) => t === 'pro')).toHaveLength(40);
    expect(first.filter((t) => t === 'free')).toHaveLength(20);
  });

  it('when the same job is enqueued twice (API and reconciler), then it is held and picked once', async () => {
    expect(await fair.enqueue('render', entry('A', 1))).toBe(true);
    expect(await fair.enqueue('render', entry('A', 1))).toBe(false);
    expect(await fair.holds('render', 'job_A_1')).toBe(true);
    expect(await fair.waiting('render')).toEqual({ A: 1 });
    expect((await fair.pick('render', 10)).map((e) => e.jobId)).toEqual(['job_A_1']);
    expect(await fair.holds('render', 'job_A_1')).toBe(false);
    expect(await fair.pick('render', 10)).toEqual([]);
  });

  it('when a tenant runs dry, then it leaves the ring and banks no credit for later', async () => {
    await fill('A', 30);
    await fill('B', 1);
    await pickAll(1).then((o) => expect(o.slice(0, 2).sort()).toEqual(['A', 'B']));
    expect(await fair.waiting('render')).toEqual({});
    // B idle for a long time, then back: it gets its turn, not a burst.
    await fill('A', 10);
    for (let i = 100; i < 105; i++) await fair.enqueue('render', entry('B', i));
    const order = (await pickAll(1)).slice(0, 10);
    expect(order.filter((t) => t === 'B')).toHaveLength(5);
    expect(order.join('')).toMatch(/^(AB|BA)+$/);
  });

  it('when many dispatchers pick at once, then every job is picked exactly once', async () => {
    for (const t of ['A', 'B', 'C']) await fill(t, 60);
    const connections = Array.from({ length: 4 }, () => createRedis(TEST_REDIS_URL));
    const clients = connections.map((c) => createFairShare(c, prefix));
    const picked: string[] = [];
    await Promise.all(
      clients.map(async (c) => {
        for (;;) {
          const got = await c.pick('render', 2);
          if (!got.length) return;
          picked.push(...got.map((e) => e.jobId));
        }
      }),
    );
    for (const c of connections) c.disconnect();
    expect(picked).toHaveLength(180);
    expect(new Set(picked).size).toBe(180);
  });

  it('when a queued job is canceled or its tenant deleted, then it leaves the lists', async () => {
    await fill('A', 3);
    await fill('B', 2);
    expect(await fair.remove('render', 'A', 'job_A_1')).toBe(true);
    expect(await fair.remove('render', 'A', 'job_A_1')).toBe(false);
    expect(await fair.forgetTenant('render', 'B')).toBe(2);
    expect(await fair.waiting('render')).toEqual({ A: 2 });
    expect((await fair.pick('render', 10)).map((e) => e.jobId)).toEqual(['job_A_0', 'job_A_2']);
  });

  it('when Redis loses the dispatcher state, then nothing is picked until jobs are enqueued again, and order restarts fairly', async () => {
    await fill('A', 5);
    await deleteKeys(plain as never, `${prefix}:*`);
    expect(await fair.pick('render', 10)).toEqual([]);
    await fill('A', 5);
    await fill('B', 5);
    expect((await pickAll(1)).slice(0, 4).sort()).toEqual(['A', 'A', 'B', 'B']);
  });

  it('when dispatching, then BullMQ holds at most `prefetch` waiting jobs and the rest wait on the lists', async () => {
    const queue = new Queue('render', { connection: redis, prefix: bullPrefix(prefix) });
    try {
      await fill('A', 10);
      await fill('B', 10);
      const add = async (q: Queue, e: FairEntry) => {
        await q.add(e.name, { jobId: e.jobId, tenantId: e.tenantId }, { jobId: e.jobId });
      };
      expect(await fair.dispatch(queue, 4, add)).toBe(4);
      expect(await fair.dispatch(queue, 4, add)).toBe(0);
      expect(await queue.getWaitingCount()).toBe(4);
      const tenants = (await queue.getWaiting()).map((j) => j.data.tenantId).sort();
      expect(tenants).toEqual(['A', 'A', 'B', 'B']);
      expect(await fair.waiting('render')).toEqual({ A: 8, B: 8 });
    } finally {
      await queue.obliterate({ force: true });
      await queue.close();
    }
  });
});
