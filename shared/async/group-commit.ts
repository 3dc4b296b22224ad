/**
 * Group commit: writes that arrive while earlier ones are in flight wait, and then go together
 * in one write. An idle caller waits for nothing but the end of the current tick (its write
 * starts at once, alone); under load, at most `maxInFlight` writes run at a time and each takes
 * up to `maxItems` of the items that queued meanwhile. The write's fixed cost (a round trip, a
 * statement, a commit and its WAL flush) is then paid once per group instead of once per item,
 * which is how databases themselves batch commits.
 *
 * `write` answers for each item separately, in order (a `PromiseSettledResult` each), so one
 * item's failure is that item's alone when the writer can tell; a throw fails every item of the
 * group. Items whose `conflictKey` matches one already in a group wait for the next group: the
 * writer never sees two of them together.
 */
export interface GroupCommit<T, R> {
  run(item: T): Promise<R>;
}

export function createGroupCommit<T, R>(opts: {
  maxInFlight: number;
  maxItems: number;
  write(items: T[]): Promise<Array<PromiseSettledResult<R>>>;
  conflictKey?(item: T): string | null;
  /** Called with each group's size as it starts (a metric). */
  onGroup?(size: number): void;
}): GroupCommit<T, R> {
  interface Waiting {
    item: T;
    resolve(value: R): void;
    reject(reason: unknown): void;
  }
  let queue: Waiting[] = [];
  let inFlight = 0;
  let scheduled = false;

  const take = (): Waiting[] => {
    const group: Waiting[] = [];
    const keys = new Set<string>();
    const rest: Waiting[] = [];
    for (const w of queue) {
      const key = opts.conflictKey?.(w.item) ?? null;
      if (group.length >= opts.maxItems || (key !== null && keys.has(key))) {
        rest.push(w);
        continue;
      }
      if (key !== null) keys.add(key);
      group.push(w);
    }
    queue = rest;
    return group;
  };

  const start = (group: Waiting[]) => {
    inFlight++;
    opts.onGroup?.(group.length);
    opts
      .write(group.map((w) => w.item))
      .then((results) => {
        if (results.length !== group.length) {
          throw new Error(`group commit: ${results.length} results for ${group.length} items`);
        }
        results.forEach((r, i) => {
          if (r.status === 'fulfilled') group[i]!.resolve(r.value);
          else group[i]!.reject(r.reason);
        });
      })
      .catch((err: unknown) => {
        for (const w of group) w.reject(err);
      })
      .finally(() => {
        inFlight--;
        dispatch();
      });
  };

  const dispatch = () => {
    while (inFlight < opts.maxInFlight && queue.length > 0) start(take());
  };

  return {
    run(item) {
      return new Promise<R>((resolve, reject) => {
        queue.push({ item, resolve, reject });
        // Requests resumed by one socket read (or one pipelined Redis reply) arrive in the same
        // tick: wait for its end so they share a group even when a write slot is free.
        if (!scheduled) {
          scheduled = true;
          setImmediate(() => {
            scheduled = false;
            dispatch();
          });
        }
      });
    },
  };
}
