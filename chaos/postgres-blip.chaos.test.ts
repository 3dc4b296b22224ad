import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestWorker, type TestWorker } from '../workers/testing/worker-harness.ts';

/**
 * Promise 1 through a Postgres blip: while a render runs, every connection to its database is
 * terminated (as a failover or a pooler restart would). The worker's next writes fail; the
 * attempt is retried, resumes after its finished steps, and the job still succeeds with usage
 * counted once.
 */
let t: TestWorker;
beforeAll(async () => {
  t = await startTestWorker();
});
afterAll(async () => {
  await t.close();
});

async function terminateBackends(database: string): Promise<number> {
  const admin = new pg.Client({ connectionString: 'postgres://postgres@127.0.0.1:5432/postgres' });
  await admin.connect();
  try {
    const r = await admin.query(
      'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
      [database],
    );
    return r.rowCount ?? 0;
  } finally {
    await admin.end();
  }
}

async function retrying<T>(fn: () => Promise<T>): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (i >= 5 || !/terminat|Connection|ECONNRESET/i.test(String(err))) throw err;
    }
  }
}

describe('chaos: Postgres drops every connection mid-render', () => {
  it('when the connections die during the encode, then the job still succeeds and is billed once', async () => {
    const tenant = await t.tenant();
    const id = await t.submit(tenant, 'render', {
      scenes: [{ text: 'Postgres will blink while this renders.' }, { title: 'Still here', duration: 8 }],
    });
    const deadline = Date.now() + 30_000;
    while (!(await t.env.db('job_steps').where({ job_id: id, name: 'compose', status: 'running' }).first())) {
      if (Date.now() > deadline) throw new Error('compose never started');
      await new Promise((r) => setTimeout(r, 50));
    }
    const database = new URL(t.env.config.DATABASE_URL).pathname.slice(1);
    expect(await terminateBackends(database)).toBeGreaterThan(0);

    // This test's own pooled connections died too: ask again until the pool has fresh ones.
    const job = await retrying(() => t.waitFor(id, ['succeeded', 'failed'], 90_000));
    expect(job.status).toBe('succeeded');
    const ledger = await retrying(() =>
      t.env.db('usage_events').where({ job_id: id }).select('step', 'metric'),
    );
    expect(ledger.map((r) => `${r.step}/${r.metric}`).sort()).toEqual([
      'compose/render_seconds',
      'compose/storage_bytes',
      'images/images',
      'tts/tts_seconds',
    ]);
  });
});
