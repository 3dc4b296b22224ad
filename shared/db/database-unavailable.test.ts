import net from 'node:net';
import knex from 'knex';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cloneTestDb } from '../testing/test-db.ts';
import { databaseUnavailableReason } from './database-unavailable.ts';
import { createDb, type Knex } from './db.ts';

/** A DatabaseError as pg builds it from a server's ErrorResponse. */
function sqlState(code: string, message = 'from the server'): pg.DatabaseError {
  const err = new pg.DatabaseError(message, 0, 'error');
  err.code = code;
  return err;
}

function socketError(code: string, syscall = 'connect'): NodeJS.ErrnoException {
  return Object.assign(new Error(`${syscall} ${code} 127.0.0.1:5432`), { code, syscall, errno: -1 });
}

describe('databaseUnavailableReason, by shape', () => {
  it.each([
    ['57P01 admin_shutdown', sqlState('57P01'), '57P01'],
    ['57P02 crash_shutdown', sqlState('57P02'), '57P02'],
    ['57P03 cannot_connect_now', sqlState('57P03'), '57P03'],
    ['08006 connection_failure', sqlState('08006'), '08006'],
    ['08001 sqlclient_unable_to_establish_sqlconnection', sqlState('08001'), '08001'],
    ['08P01 protocol_violation', sqlState('08P01'), '08P01'],
    ['ECONNREFUSED', socketError('ECONNREFUSED'), 'ECONNREFUSED'],
    ['ECONNRESET', socketError('ECONNRESET', 'read'), 'ECONNRESET'],
    ['ETIMEDOUT', socketError('ETIMEDOUT'), 'ETIMEDOUT'],
    ['EPIPE', socketError('EPIPE', 'write'), 'EPIPE'],
    [
      "Node's happy-eyeballs AggregateError",
      new AggregateError([socketError('ECONNREFUSED'), socketError('ECONNREFUSED')]),
      'ECONNREFUSED',
    ],
    [
      "knex's pool acquire timeout",
      new knex.KnexTimeoutError('Knex: Timeout acquiring a connection'),
      'knex_timeout',
    ],
    ["pg's lost connection", new Error('Connection terminated unexpectedly'), 'connection_lost'],
    [
      "pg's lost connection, prefixed with the SQL by knex",
      new Error('insert into "jobs" ("id") values ($1) - Connection terminated unexpectedly'),
      'connection_lost',
    ],
    [
      "pg's query on a broken client",
      new Error('Client has encountered a connection error and is not queryable'),
      'connection_lost',
    ],
    ["pg's connectionTimeoutMillis", new Error('timeout expired'), 'connect_timeout'],
    [
      'any of these as a cause',
      new Error('loading the tenant failed', { cause: sqlState('57P01') }),
      '57P01',
    ],
  ])('when the error is %s, then it is unavailable', (_what, err, reason) => {
    expect(databaseUnavailableReason(err)).toBe(reason);
  });

  it.each([
    ['a unique violation (23505)', sqlState('23505', 'duplicate key value violates unique constraint')],
    ['a syntax error (42601)', sqlState('42601', 'syntax error at or near "selec"')],
    ['a statement timeout (57014): a slow query is ours to fix', sqlState('57014')],
    ['a serialization failure (40001)', sqlState('40001')],
    ['a plain Error', new Error('something broke')],
    [
      'a message that only mentions a lost connection',
      new Error('Connection terminated unexpectedly, said the log'),
    ],
    ['a file system error', socketError('ENOENT', 'open')],
    [
      'an object that only looks like a socket error',
      { code: 'ECONNREFUSED', message: 'connect ECONNREFUSED' },
    ],
    ['a string', 'ECONNREFUSED'],
    ['undefined', undefined],
    [
      'a cycle of causes',
      (() => {
        const e = new Error('a');
        e.cause = e;
        return e;
      })(),
    ],
  ])('when the error is %s, then it is not', (_what, err) => {
    expect(databaseUnavailableReason(err)).toBeNull();
  });
});

describe('databaseUnavailableReason, on what the driver really throws', () => {
  let database: Awaited<ReturnType<typeof cloneTestDb>>;
  const handles: Knex[] = [];
  const connect = (url: string, opts: Parameters<typeof createDb>[1] = {}) => {
    const db = createDb(url, opts);
    handles.push(db);
    return db;
  };
  const failure = (p: Promise<unknown>) =>
    p.then(
      () => {
        throw new Error('expected a failure');
      },
      (err: unknown) => err,
    );

  beforeAll(async () => {
    database = await cloneTestDb();
  });
  afterAll(async () => {
    await Promise.all(handles.map((h) => h.destroy()));
    await database?.drop();
  });

  it('when nothing listens on the port, then the query fails as unavailable (ECONNREFUSED)', async () => {
    // A port that was free a moment ago, closed again.
    const probe = net.createServer().listen(0, '127.0.0.1');
    await new Promise((r) => probe.once('listening', r));
    const { port } = probe.address() as net.AddressInfo;
    await new Promise((r) => probe.close(r));
    const url = new URL(database.url);
    url.host = `127.0.0.1:${port}`;
    const err = await failure(connect(url.toString(), { poolMax: 1 }).raw('select 1'));
    expect(databaseUnavailableReason(err)).toBe('ECONNREFUSED');
  });

  it('when the server terminates the connection, then the query fails as unavailable (57P01)', async () => {
    const err = await failure(
      connect(database.url, { poolMax: 1 }).raw('select pg_terminate_backend(pg_backend_pid())'),
    );
    expect(databaseUnavailableReason(err)).toBe('57P01');
  });

  it('when the pool has no connection to give in time, then it fails as unavailable (knex_timeout)', async () => {
    // createDb waits 10 s for a connection; the same pool with a 200 ms wait.
    const db = knex({
      client: 'pg',
      connection: database.url,
      pool: { min: 0, max: 1 },
      acquireConnectionTimeout: 200,
    });
    handles.push(db);
    const trx = await db.transaction();
    try {
      const err = await failure(db.raw('select 1'));
      expect(databaseUnavailableReason(err)).toBe('knex_timeout');
    } finally {
      await trx.rollback();
    }
  });

  it('when the statement is wrong or breaks a constraint, then it is not unavailable', async () => {
    const db = connect(database.url, { poolMax: 1 });
    expect(databaseUnavailableReason(await failure(db.raw('selec 1')))).toBeNull();
    const duplicate = await failure(
      db.transaction(async (trx) => {
        await trx.raw('create temp table once (id int primary key) on commit drop');
        await trx.raw('insert into once values (1), (1)');
      }),
    );
    expect((duplicate as pg.DatabaseError).code).toBe('23505');
    expect(databaseUnavailableReason(duplicate)).toBeNull();
  });
});
