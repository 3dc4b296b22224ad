import { describe, expect, it } from 'vitest';
import { mapLimit } from './map-limit.ts';

describe('mapLimit', () => {
  it('when items take different times, then at most `limit` run at once and results keep their order', async () => {
    let running = 0;
    let peak = 0;
    const result = await mapLimit([30, 10, 20, 5, 15], 2, async (ms, i) => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, ms));
      running--;
      return i * 10;
    });
    expect(result).toEqual([0, 10, 20, 30, 40]);
    expect(peak).toBe(2);
  });

  it('when one call fails, then it rejects with that error and starts nothing after it', async () => {
    const started: number[] = [];
    const run = mapLimit([0, 1, 2, 3, 4], 1, async (n) => {
      started.push(n);
      if (n === 1) throw new Error('no');
      return n;
    });
    await expect(run).rejects.toThrow('no');
    expect(started).toEqual([0, 1]);
  });
});
