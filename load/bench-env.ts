import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import { type Config, loadConfig } from '../shared/config/config.ts';
import { createDb, type Knex } from '../shared/db/db.ts';
import { migrateLatest } from '../shared/db/migrate.ts';

const ADMIN_URL = process.env.BENCH_PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** An isolated database, Redis prefix and storage directory for one benchmark run; `close()` removes them. */
export async function createBenchEnv(overrides: Record<string, string> = {}): Promise<{
  config: Config;
  /** The environment that gives a child process (a worker started apart) the same configuration */
  vars: Record<string, string>;
  db: Knex;
  close(): Promise<void>;
}> {
  const name = `rm_bench_${process.pid}_${randomBytes(3).toString('hex')}`;
  const admin = async (sql: string) => {
    const c = new pg.Client({ connectionString: ADMIN_URL });
    await c.connect();
    try {
      await c.query(sql);
    } finally {
      await c.end();
    }
  };
  await admin(`CREATE DATABASE "${name}"`);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'rendermill-bench-'));
  const prefix = `rmbench_${randomBytes(3).toString('hex')}`;
  const vars: Record<string, string> = {
    NODE_ENV: 'test',
    DATABASE_URL: url.toString(),
    REDIS_PREFIX: prefix,
    METRICS_PORT: '0',
    PORT: '0',
    LOG_LEVEL: 'silent',
    STORAGE_DIR: path.join(dir, 'storage'),
    DEV_OUTBOX_DIR: path.join(dir, 'outbox'),
    SCHEDULER_ENABLED: 'false',
    JWT_SECRET: randomBytes(32).toString('hex'),
    ...overrides,
  };
  const config = loadConfig(vars);
  const db = createDb(config.DATABASE_URL, { poolMax: 8 });
  await migrateLatest(db);
  return {
    config,
    vars,
    db,
    async close() {
      await db.destroy();
      const redis = new Redis(config.REDIS_URL);
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
        cursor = next;
        if (keys.length) await redis.del(...keys);
      } while (cursor !== '0');
      redis.disconnect();
      await admin(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
