import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrations } from '../../migrations/index.ts';
import { dbUrl, withAdmin } from '../testing/test-db-admin.ts';
import { createDb, type Knex } from './db.ts';
import { migrateLatest } from './migrate.ts';

// A fresh, empty database (not a template clone): this file tests the migrations themselves.
const name = `rm_test_${process.pid}_${randomBytes(4).toString('hex')}`;
const handles: Knex[] = [];

function connect(): Knex {
  // poolMax 2, as the process runner uses: one connection holds the advisory lock, one migrates.
  const db = createDb(dbUrl(name), { poolMax: 2 });
  handles.push(db);
  return db;
}

beforeAll(async () => {
  await withAdmin((c) => c.query(`CREATE DATABASE "${name}"`));
});
afterAll(async () => {
  await Promise.all(handles.map((h) => h.destroy()));
  await withAdmin((c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
});

describe('migrateLatest', () => {
  it('when two processes migrate an empty database at once, then both succeed and each migration runs once', async () => {
    const [a, b] = await Promise.all([migrateLatest(connect()), migrateLatest(connect())]);
    const names = migrations.map((m) => m.name);
    // One run applied everything, the other found nothing left to do.
    expect([...a, ...b].sort()).toEqual([...names].sort());
    expect([a.length, b.length].sort()).toEqual([0, names.length]);

    const db = connect();
    const rows = await db('knex_migrations').select('name').orderBy('id');
    expect(rows.map((r) => r.name)).toEqual(names);
    const lock = await db('knex_migrations_lock').select('is_locked');
    expect(lock).toEqual([{ is_locked: 0 }]);
  });

  it('when the schema is current, then a third run applies nothing', async () => {
    expect(await migrateLatest(connect())).toEqual([]);
    const [{ n }] = (await connect()('knex_migrations').count({ n: '*' })) as [{ n: number }];
    expect(n).toBe(migrations.length);
  });

  it('when the advisory lock was taken, then it is released after the run', async () => {
    const db = connect();
    const held = await db.raw(`SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory'
      AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`);
    expect(held.rows[0].n).toBe(0);
  });
});
