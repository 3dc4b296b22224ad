import { afterEach, describe, expect, it, vi } from 'vitest';
import { backoffDelay } from './backoff.ts';

describe('backoffDelay', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('when there is no jitter, then the delay doubles each attempt from the base', () => {
    expect([1, 2, 3, 4].map((attempt) => backoffDelay({ baseMs: 100, attempt, jitter: 0 }))).toEqual([
      100, 200, 400, 800,
    ]);
  });

  it('when a cap is set, then no delay exceeds it', () => {
    expect(backoffDelay({ baseMs: 1_000, attempt: 10, maxMs: 5_000, jitter: 0 })).toBe(5_000);
  });

  it('when jitter is left at its default, then the delay stays within ±20 % of the exponential one', () => {
    vi.spyOn(Math, 'random').mockReturnValueOnce(0).mockReturnValueOnce(0.999999);
    expect(backoffDelay({ baseMs: 1_000, attempt: 2 })).toBeCloseTo(1_600);
    expect(backoffDelay({ baseMs: 1_000, attempt: 2 })).toBeCloseTo(2_400, 0);
  });
});
