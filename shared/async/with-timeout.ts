/** A promise given to `withTimeout` did not settle in time. */
export class TimeoutError extends Error {
  override readonly name = 'TimeoutError';
}

/**
 * Settles as `promise` does, or rejects with a `TimeoutError` after `ms` ("`what` timed out after
 * `ms` ms"), so a dead Redis or a hung probe costs its caller at most that long. The timer is
 * cleared as soon as either side settles: nothing is left to keep the process alive. The loser
 * is not canceled (pass an AbortSignal to the work for that); its late rejection is swallowed.
 */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(`${what} timed out after ${ms} ms`)), ms);
  });
  promise.catch(() => undefined);
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
