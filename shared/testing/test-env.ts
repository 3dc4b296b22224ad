import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { type Config, loadConfig } from '../config/config.ts';
import { createDb, type Knex } from '../db/db.ts';
import { cloneTestDb } from './test-db.ts';

export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/0';

export interface TestEnv {
  config: Config;
  /** A knex handle on this file's own database, for assertions and fixtures. */
  db: Knex;
  redis: Redis;
  dir: string;
  /** The environment variables behind `config`, to start a real child process with the same settings. */
  vars: Record<string, string>;
  /** Builds a config for this env with overrides (e.g. a second process with other settings). */
  configWith(overrides: Record<string, string>): Config;
  cleanup(): Promise<void>;
}

/**
 * Isolation for one test file: its own database (cloned from the migrated template), its own
 * Redis key prefix, its own temp directory. `cleanup()` removes all three.
 */
export async function createTestEnv(overrides: Record<string, string> = {}): Promise<TestEnv> {
  const database = await cloneTestDb();
  const prefix = `rmtest_${randomBytes(4).toString('hex')}`;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'rendermill-test-'));
  const base: Record<string, string> = {
    NODE_ENV: 'test',
    DATABASE_URL: database.url,
    REDIS_URL: TEST_REDIS_URL,
    REDIS_PREFIX: prefix,
    PORT: '0',
    METRICS_PORT: '0',
    PUBLIC_URL: 'http://rendermill.test',
    JWT_SECRET: randomBytes(32).toString('hex'),
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    STORAGE_DIR: path.join(dir, 'storage'),
    DEV_OUTBOX_DIR: path.join(dir, 'outbox'),
    // No dashboard unless a test asks for it: whether web/dist happens to be built must not matter.
    WEB_DIST_DIR: path.join(dir, 'no-web-build'),
    SCHEDULER_ENABLED: 'false',
    ...overrides,
  };
  const configWith = (more: Record<string, string>) => loadConfig({ ...base, ...more });
  const config = configWith({});
  const db = createDb(database.url, { poolMax: 4 });
  // Keys are cleaned where the env writes them; a test that points REDIS_URL at a dead port
  // (readiness checks) still cleans the shared test server.
  const local = /^redis:\/\/(127\.0\.0\.1|localhost):6379(\/|$)/.test(config.REDIS_URL);
  const redis = new Redis(local ? config.REDIS_URL : TEST_REDIS_URL, { maxRetriesPerRequest: 3 });
  return {
    config,
    db,
    redis,
    dir,
    vars: base,
    configWith,
    async cleanup() {
      await db.destroy();
      await deleteKeys(redis, `${prefix}:*`);
      redis.disconnect();
      await database.drop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export async function deleteKeys(redis: Redis, pattern: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
    cursor = next;
    if (keys.length) await redis.del(...keys);
  } while (cursor !== '0');
}
