import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { TimeoutError, withTimeout } from './with-timeout.ts';

describe('withTimeout', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('when the promise resolves in time, then its value passes through and no timer is left', async () => {
    const result = withTimeout(Promise.resolve(42), 1_000, 'answer');
    await expect(result).resolves.toBe(42);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('when the promise rejects in time, then its error passes through and no timer is left', async () => {
    const boom = new Error('boom');
    await expect(withTimeout(Promise.reject(boom), 1_000, 'answer')).rejects.toBe(boom);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('when the promise does not settle in time, then it rejects with a TimeoutError naming what timed out', async () => {
    const never = new Promise<number>(() => {});
    const result = withTimeout(never, 750, 'redis ping');
    const settled = expect(result).rejects.toThrow(new TimeoutError('redis ping timed out after 750 ms'));
    await vi.advanceTimersByTimeAsync(749);
    expect(vi.getTimerCount()).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    await settled;
    await expect(result).rejects.toBeInstanceOf(TimeoutError);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('when the promise rejects after the timeout, then the late rejection is not unhandled', async () => {
    const unhandled = vi.fn();
    process.on('unhandledRejection', unhandled);
    try {
      let fail: (err: Error) => void = () => {};
      const late = new Promise<never>((_, reject) => {
        fail = reject;
      });
      const result = expect(withTimeout(late, 10, 'late')).rejects.toBeInstanceOf(TimeoutError);
      await vi.advanceTimersByTimeAsync(10);
      await result;
      fail(new Error('too late'));
      vi.useRealTimers();
      // One macrotask turn: Node reports unhandled rejections after the microtask queue drains.
      await new Promise((r) => setImmediate(r));
      expect(unhandled).not.toHaveBeenCalled();
    } finally {
      process.off('unhandledRejection', unhandled);
    }
  });
});
