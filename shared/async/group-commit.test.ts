import { describe, expect, it } from 'vitest';
import { createGroupCommit } from './group-commit.ts';

/** A writer whose writes finish when the test says so, recording each group it was given. */
function gatedWriter() {
  const groups: number[][] = [];
  const gates: Array<() => void> = [];
  let active = 0;
  let maxActive = 0;
  return {
    groups,
    maxActive: () => maxActive,
    /** Lets the oldest unfinished write finish. */
    open: () => gates.shift()?.(),
    waiting: () => gates.length,
    async write(items: number[]): Promise<Array<PromiseSettledResult<number>>> {
      groups.push(items);
      active++;
      maxActive = Math.max(maxActive, active);
      await new Promise<void>((resolve) => gates.push(resolve));
      active--;
      return items.map((i) =>
        i < 0
          ? { status: 'rejected', reason: new Error(`bad ${i}`) }
          : { status: 'fulfilled', value: i * 10 },
      );
    },
  };
}

describe('group commit', () => {
  it('when idle, then an item is written at once, alone', async () => {
    const w = gatedWriter();
    const g = createGroupCommit({ maxInFlight: 2, maxItems: 8, write: w.write });
    const one = g.run(1);
    await expect.poll(() => w.waiting()).toBe(1);
    w.open();
    await expect(one).resolves.toBe(10);
    expect(w.groups).toEqual([[1]]);
  });

  it('when items arrive while writes are in flight, then they go together in the next write, at most maxInFlight at a time and maxItems each', async () => {
    const w = gatedWriter();
    const sizes: number[] = [];
    const g = createGroupCommit({
      maxInFlight: 2,
      maxItems: 3,
      write: w.write,
      onGroup: (n) => sizes.push(n),
    });
    const first = [g.run(1), g.run(2)]; // one tick: one group
    await expect.poll(() => w.waiting()).toBe(1);
    const second = g.run(3); // a slot is free: a group of its own
    await expect.poll(() => w.waiting()).toBe(2);
    const later = [4, 5, 6, 7, 8].map((i) => g.run(i)); // both slots busy: these wait
    await new Promise((r) => setImmediate(r));
    expect(w.groups).toEqual([[1, 2], [3]]);
    w.open();
    await expect(Promise.all(first)).resolves.toEqual([10, 20]);
    await expect.poll(() => w.groups.length).toBe(3);
    w.open();
    await expect(second).resolves.toBe(30);
    await expect.poll(() => w.groups.length).toBe(4);
    w.open();
    w.open();
    await expect(Promise.all(later)).resolves.toEqual([40, 50, 60, 70, 80]);
    expect(w.groups).toEqual([[1, 2], [3], [4, 5, 6], [7, 8]]);
    expect(sizes).toEqual([2, 1, 3, 2]);
    expect(w.maxActive()).toBe(2);
  });

  it('when two items share a conflict key, then they are never written together', async () => {
    const w = gatedWriter();
    const g = createGroupCommit({
      maxInFlight: 1,
      maxItems: 10,
      write: w.write,
      conflictKey: (i: number) => (i % 2 === 0 ? 'even' : null),
    });
    const all = [1, 2, 3, 4, 5, 6].map((i) => g.run(i));
    for (let n = 1; n <= 3; n++) {
      await expect.poll(() => w.waiting()).toBe(1);
      w.open();
    }
    await expect(Promise.all(all)).resolves.toEqual([10, 20, 30, 40, 50, 60]);
    expect(w.groups).toEqual([[1, 2, 3, 5], [4], [6]]);
  });

  it("when the writer fails one item, then only that item's caller sees the error", async () => {
    const w = gatedWriter();
    const g = createGroupCommit({ maxInFlight: 1, maxItems: 10, write: w.write });
    const results = Promise.allSettled([g.run(1), g.run(-1), g.run(2)]);
    await expect.poll(() => w.waiting()).toBe(1);
    w.open();
    const [a, b, c] = await results;
    expect(a).toEqual({ status: 'fulfilled', value: 10 });
    expect(b).toMatchObject({ status: 'rejected', reason: { message: 'bad -1' } });
    expect(c).toEqual({ status: 'fulfilled', value: 20 });
  });

  it('when the write throws or answers for the wrong number of items, then every item of that group fails and the next group still runs', async () => {
    let calls = 0;
    const g = createGroupCommit<number, number>({
      maxInFlight: 1,
      maxItems: 2,
      async write(items) {
        calls++;
        if (calls === 1) throw new Error('connection lost');
        if (calls === 2) return [{ status: 'fulfilled', value: 0 }];
        return items.map((i) => ({ status: 'fulfilled', value: i }));
      },
    });
    const results = await Promise.allSettled([g.run(1), g.run(2), g.run(3), g.run(4), g.run(5)]);
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message))).toEqual([
      'connection lost',
      'connection lost',
      'group commit: 1 results for 2 items',
      'group commit: 1 results for 2 items',
      5,
    ]);
  });
});
