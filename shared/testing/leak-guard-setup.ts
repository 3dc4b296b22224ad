import { afterAll } from 'vitest';
import { formatLeaks, startLeakTracking } from './leak-guard.ts';

/**
 * Fails a test file that leaves a Redis connection, a Postgres connection, a listening server or a
 * child process open after its own afterAll hooks. Registered first (vitest's `setupFiles`), so with
 * the default `sequence.hooks: 'stack'` this afterAll runs last. Each file runs in a fork of its
 * own (`pool: 'forks'`, isolated), so what is found was made by this file.
 */
const tracker = startLeakTracking();

afterAll(async () => {
  tracker.stop();
  const leaks = await tracker.leaks();
  if (leaks.length) {
    throw new Error(
      `this test file left ${leaks.length} resource(s) open after its afterAll:\n${formatLeaks(leaks)}`,
    );
  }
});
