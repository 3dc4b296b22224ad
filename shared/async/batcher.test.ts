import { describe, expect, it } from 'vitest';
import { createBatcher } from './batcher.ts';

function recorder(fail = false) {
  const batches: number[][] = [];
  const errors: number[][] = [];
  const batcher = createBatcher<number>({
    maxWaitMs: 20,
    maxItems: 3,
    flush: async (items) => {
      if (fail) throw new Error('down');
      batches.push(items);
    },
    onError: (_err, items) => errors.push(items),
  });
  return { batcher, batches, errors };
}

describe('batcher', () => {
  it('when items arrive together, then they are flushed as one batch after the wait', async () => {
    const { batcher, batches } = recorder();
    batcher.add(1);
    batcher.add(2);
    expect(batches).toEqual([]);
    await expect.poll(() => batches).toEqual([[1, 2]]);
  });

  it('when maxItems are waiting, then they are flushed at once, and the rest on drain', async () => {
    const { batcher, batches } = recorder();
    for (const i of [1, 2, 3, 4]) batcher.add(i);
    await batcher.drain();
    expect(batches).toEqual([[1, 2, 3], [4]]);
  });

  it('when a flush fails, then its items are reported and later batches still go out', async () => {
    const failing = recorder(true);
    failing.batcher.add(1);
    await failing.batcher.drain();
    expect(failing.errors).toEqual([[1]]);
    failing.batcher.add(2);
    await failing.batcher.drain();
    expect(failing.errors).toEqual([[1], [2]]);
  });

  it('when nothing waits, then drain resolves at once', async () => {
    const { batcher, batches } = recorder();
    await batcher.drain();
    expect(batches).toEqual([]);
  });
});
