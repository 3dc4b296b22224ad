import { spawn } from 'node:child_process';
import { once } from 'node:events';
import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { createDb } from '../db/db.ts';
import { createRedis } from '../redis/redis.ts';
import { type LeakTracker, startLeakTracking } from './leak-guard.ts';
import { createTestEnv } from './test-env.ts';

// These tests leave things open on purpose, then close them: the file's own guard must find nothing.
let tracker: LeakTracker | undefined;
afterEach(() => {
  tracker?.stop();
});

describe('leak guard', () => {
  it('when a Redis connection is left open, then it is reported with its name and where it was made, until it is closed', async () => {
    tracker = startLeakTracking();
    const redis = createRedis('redis://127.0.0.1:6379/0', { name: 'leaky-test-connection' });
    await redis.ping();
    const leaks = await tracker.leaks({ graceMs: 0 });
    expect(leaks).toEqual([
      {
        kind: 'redis',
        what: expect.stringContaining('leaky-test-connection'),
        createdAt: expect.stringContaining('leak-guard.test.ts'),
      },
    ]);
    redis.disconnect();
    expect(await tracker.leaks()).toEqual([]);
  });

  it('when a child process is still running, then it is reported with its command line, until it exits', async () => {
    tracker = startLeakTracking();
    const child = spawn('sleep', ['30']);
    const leaks = await tracker.leaks({ graceMs: 0 });
    expect(leaks).toEqual([
      {
        kind: 'child process',
        what: expect.stringMatching(/^pid \d+: sleep 30$/),
        createdAt: expect.any(String),
      },
    ]);
    child.kill('SIGKILL');
    await once(child, 'exit');
    expect(await tracker.leaks()).toEqual([]);
  });

  it('when a knex pool is not destroyed or a server not closed, then both are reported', async () => {
    const env = await createTestEnv();
    try {
      tracker = startLeakTracking();
      const db = createDb(env.config.DATABASE_URL, { poolMax: 1 });
      await db.raw('select 1');
      const server = http.createServer().listen(0, '127.0.0.1');
      await once(server, 'listening');
      expect((await tracker.leaks({ graceMs: 0 })).map((l) => l.kind).sort()).toEqual(['postgres', 'server']);
      await db.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      expect(await tracker.leaks()).toEqual([]);
    } finally {
      await env.cleanup();
    }
  });

  it('when a resource was made before tracking started, then it is not blamed', async () => {
    const before = createRedis('redis://127.0.0.1:6379/0', { name: 'made-before' });
    try {
      await before.ping();
      tracker = startLeakTracking();
      expect(await tracker.leaks({ graceMs: 0 })).toEqual([]);
    } finally {
      before.disconnect();
    }
  });
});
