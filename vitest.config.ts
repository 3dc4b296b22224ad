import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['{api,workers,shared,migrations,chaos,sdk,deploy,load}/**/*.test.ts', 'web/e2e/**/*.test.ts'],
    exclude: ['**/node_modules/**', 'sdk/dist/**'],
    globalSetup: ['shared/testing/global-setup.ts'],
    // A file that leaves a Redis or Postgres connection, a server or a child process open fails.
    setupFiles: ['shared/testing/leak-guard-setup.ts'],
    // Each file gets its own database and Redis prefix, so files can run in parallel;
    // two forks match the two cores of the CI machine.
    pool: 'forks',
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    testTimeout: 60_000,
    hookTimeout: 60_000,
    teardownTimeout: 30_000,
  },
});
