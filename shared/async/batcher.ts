/**
 * Collects items and hands them to `flush` together: after `maxWaitMs` from the first item, or
 * at once when `maxItems` are waiting. One flush runs at a time; items added meanwhile wait for
 * the next. For writes that may lag their cause by a few milliseconds (an outbox mark), where
 * one statement for many rows beats a round trip per row. `drain()` flushes what is left (call it
 * on shutdown).
 */
export interface Batcher<T> {
  add(item: T): void;
  drain(): Promise<void>;
}

export function createBatcher<T>(opts: {
  maxWaitMs: number;
  maxItems: number;
  flush(items: T[]): Promise<void>;
  /** A failed flush is reported here and its items dropped: callers must tolerate a lost batch. */
  onError(err: unknown, items: T[]): void;
}): Batcher<T> {
  let waiting: T[] = [];
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<void> = Promise.resolve();

  const run = () => {
    if (timer) clearTimeout(timer);
    timer = null;
    if (waiting.length === 0) return running;
    const items = waiting;
    waiting = [];
    running = running.then(() => opts.flush(items).catch((err: unknown) => opts.onError(err, items)));
    return running;
  };

  return {
    add(item) {
      waiting.push(item);
      if (waiting.length >= opts.maxItems) void run();
      else timer ??= setTimeout(run, opts.maxWaitMs);
    },
    async drain() {
      await run();
    },
  };
}
