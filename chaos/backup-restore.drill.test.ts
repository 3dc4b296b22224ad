import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiProcess, start as startApi } from '../api/main.ts';
import { type SignIn, startTestApi, type TestApi } from '../api/testing/api-harness.ts';
import { manifestSchema } from '../shared/backup/manifest.ts';
import { createProducer } from '../shared/queue/producer.ts';
import { createRedis } from '../shared/redis/redis.ts';
import { dbUrl, withAdmin } from '../shared/testing/test-db-admin.ts';
import { deleteKeys } from '../shared/testing/test-env.ts';
import { start as startWorker, type WorkerProcess } from '../workers/main.ts';
import { reconcileJobs } from '../workers/tasks/maintenance/reconcile-task.ts';

/**
 * The restore drill: a platform with tenants, finished and open jobs, a usage ledger, outputs and an
 * audit log is backed up with `npm run backup` (encrypted), restored with `npm run restore` into a
 * fresh database, and a second API on the restored database must serve the same jobs, usage and
 * audit log to the same credentials, while the reconciler puts the open job back on a new, empty Redis.
 */
const ROOT = path.resolve(import.meta.dirname, '..');
const run = promisify(execFile);
const KEY = randomBytes(32).toString('hex');
const OPS_TOKEN = randomBytes(18).toString('hex');
const restoredName = `rm_test_${process.pid}_drill_${randomBytes(3).toString('hex')}`;
const restoredPrefix = `rmtest_drill_${randomBytes(4).toString('hex')}`;

let t: TestApi;
let worker: WorkerProcess;
let restoredApi: ApiProcess | undefined;
let restoredWorker: WorkerProcess | undefined;

beforeAll(async () => {
  t = await startTestApi({
    // The drill reads the re-enqueued job from BullMQ itself, so jobs go there directly.
    FAIR_SHARE: 'false',
    BACKUP_ENCRYPTION_KEY: KEY,
    OPS_TOKEN,
    RATE_LIMIT_BURST_PER_SECOND: '1000',
    RATE_LIMIT_PER_MINUTE: '100000',
  });
  // Only the media queue is worked: renders stay queued (the open jobs of the drill).
  worker = await startWorker(t.env.configWith({ WORKER_QUEUES: 'media' }));
});
afterAll(async () => {
  await restoredApi?.stop();
  await restoredWorker?.stop();
  await worker?.stop();
  await deleteKeys(t.env.redis, `${restoredPrefix}:*`);
  await withAdmin((c) => c.query(`DROP DATABASE IF EXISTS "${restoredName}" WITH (FORCE)`));
  await t.close();
});

/** Runs one of the npm scripts' entry points as `npm run` would, with the test's environment. */
async function cli(script: string, args: string[], env: Record<string, string> = {}) {
  return run(process.execPath, ['--import', 'tsx', script, ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...t.env.vars, ...env },
    timeout: 120_000,
  }).then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (e: { code?: number; stdout?: string; stderr?: string }) => ({
      code: e.code ?? 1,
      stdout: e.stdout ?? '',
      stderr: e.stderr ?? '',
    }),
  );
}

async function call(base: string, pathname: string, token: string) {
  const r = await fetch(`${base}${pathname}`, {
    headers: { authorization: `Bearer ${token}` },
    redirect: 'manual',
  });
  const text = await r.text();
  const json = r.headers.get('content-type')?.includes('json');
  return { status: r.status, location: r.headers.get('location'), body: json ? JSON.parse(text) : null };
}

async function waitFinished(token: string, id: string) {
  for (let i = 0; i < 600; i++) {
    const j = await call(t.api.url, `/v1/jobs/${id}`, token);
    if (['succeeded', 'failed'].includes(j.body.status)) return j.body;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`job ${id} did not finish`);
}

/** What a tenant sees of its data through the API. */
async function view(base: string, s: SignIn, jobIds: string[]) {
  const token = s.access_token;
  return {
    me: (await call(base, '/v1/me', token)).body,
    jobs: (await call(base, '/v1/jobs?limit=100', token)).body,
    each: await Promise.all(jobIds.map(async (id) => (await call(base, `/v1/jobs/${id}`, token)).body)),
    usage: (await call(base, '/v1/usage', token)).body,
    events: (await call(base, '/v1/usage/events?limit=100', token)).body,
    audit: (await call(base, '/v1/audit-log?limit=200', token)).body,
  };
}

describe('backup and restore drill', () => {
  // Four CLI processes (each a tsx start) and three platforms: ~45 s on a quiet machine, minutes when
  // the 2 cores are shared by several suites.
  it('when the platform is backed up and restored into a fresh database, then a new API serves the same jobs, usage, audit log and outputs, and the reconciler re-enqueues open jobs', {
    timeout: 240_000,
  }, async () => {
    // --- A platform with two tenants, finished and open jobs, a ledger, outputs and an audit log.
    const a = await t.signIn('drill-a@example.com');
    const b = await t.signIn('drill-b@example.com');
    const submit = async (s: SignIn, route: string, body: unknown) => {
      const r = await t.call('POST', route, { token: s.access_token, body });
      expect(r.status, r.text).toBe(202);
      return r.body.id as string;
    };
    const speech = await submit(a, '/v1/tts', { text: 'Back me up, please.', voice: 'en', format: 'wav' });
    const card = await submit(b, '/v1/images', {
      title: 'Drill',
      text: 'Restore me',
      width: 320,
      height: 180,
    });
    const open = await submit(a, '/v1/renders', { scenes: [{ title: 'Still queued', duration: 1 }] });
    const key = await t.call('POST', '/v1/api-keys', { token: a.access_token, body: { name: 'drill' } });
    expect(key.status).toBe(201);
    expect((await waitFinished(a.access_token, speech)).status).toBe('succeeded');
    expect((await waitFinished(b.access_token, card)).status).toBe('succeeded');
    await worker.stop();

    const before = { a: await view(t.api.url, a, [speech, open]), b: await view(t.api.url, b, [card]) };
    expect(before.a.events.data.length).toBeGreaterThanOrEqual(2);
    expect(before.a.audit.data.length).toBeGreaterThanOrEqual(3);
    expect(before.a.each[1].status).toBe('queued');

    // --- npm run backup: encrypted, uploaded to storage with its manifest, verified, recorded.
    const backup = await cli('shared/backup/backup-cli.ts', []);
    expect(backup.code, backup.stderr).toBe(0);
    const summary = JSON.parse(backup.stdout.trim().split('\n').at(-1)!);
    expect(summary).toMatchObject({ encrypted: true, verification: 'checksum' });
    const manifest = manifestSchema.parse(
      JSON.parse(
        await readFile(path.join(t.env.config.STORAGE_DIR, 'backups', summary.id, 'manifest.json'), 'utf8'),
      ),
    );
    expect(manifest.tables.jobs).toBe(3);
    expect(manifest.encryption?.algorithm).toBe('aes-256-gcm');
    const dump = await readFile(path.join(t.env.config.STORAGE_DIR, manifest.dump.key));
    expect(dump.subarray(0, 5).toString('latin1')).not.toBe('PGDMP'); // pg_dump's custom-format magic
    expect(dump.includes(Buffer.from('drill-a@example.com'))).toBe(false);

    // --- npm run restore -- <id> --target <fresh database>
    const target = dbUrl(restoredName);
    const restore = await cli('shared/backup/restore-cli.ts', [summary.id, '--target', target]);
    expect(restore.code, restore.stderr).toBe(0);
    expect(JSON.parse(restore.stdout.trim().split('\n').at(-1)!)).toMatchObject({
      restored: summary.id,
      database: restoredName,
    });
    // A second restore into the now non-empty database is refused.
    const again = await cli('shared/backup/restore-cli.ts', [summary.id, '--target', target]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/not empty/);
    // Without the key, an encrypted backup cannot be restored.
    const keyless = await cli(
      'shared/backup/restore-cli.ts',
      ['latest', '--target', dbUrl(`${restoredName}_x`)],
      {
        BACKUP_ENCRYPTION_KEY: '',
      },
    );
    expect(keyless.code).toBe(1);
    expect(keyless.stderr).toMatch(/BACKUP_ENCRYPTION_KEY/);
    await withAdmin((c) => c.query(`DROP DATABASE IF EXISTS "${restoredName}_x" WITH (FORCE)`));

    // --- A real API on the restored database (and a new, empty Redis) serves the same data.
    const restoredConfig = t.env.configWith({
      DATABASE_URL: target,
      REDIS_PREFIX: restoredPrefix,
      RECONCILE_QUIET_SECONDS: '0',
      WORKER_QUEUES: 'maintenance',
    });
    restoredApi = await startApi(restoredConfig);
    const after = {
      a: await view(restoredApi.url, a, [speech, open]),
      b: await view(restoredApi.url, b, [card]),
    };
    expect(after).toEqual(before);

    // Outputs: the restored rows point at the same objects in storage.
    const output = await call(restoredApi.url, `/v1/jobs/${speech}/output`, a.access_token);
    expect(output.status).toBe(302);
    // The link names PUBLIC_URL; the same path and signature on the restored API's address.
    const signed = new URL(output.location!, restoredApi.url);
    const file = await fetch(`${restoredApi.url}${signed.pathname}${signed.search}`);
    expect(file.status).toBe(200);
    expect((await file.arrayBuffer()).byteLength).toBe(before.a.each[0].output.bytes);

    // GET /v1/ops/backups (operator credentials only) shows the verified backup.
    expect((await fetch(`${t.api.url}/v1/ops/backups`)).status).toBe(401);
    expect((await call(t.api.url, '/v1/ops/backups', a.access_token)).status).toBe(401); // a tenant token is not enough
    const ops = await fetch(`${t.api.url}/v1/ops/backups`, {
      headers: { authorization: `Basic ${Buffer.from(`ops:${OPS_TOKEN}`).toString('base64')}` },
    });
    expect(ops.status).toBe(200);
    const status = (await ops.json()) as { last_verified: { id: string; encrypted: boolean } | null };
    expect(status.last_verified).toMatchObject({ id: summary.id, encrypted: true });

    // --- The reconciler re-enqueues the open job on the new Redis.
    restoredWorker = await startWorker(restoredConfig);
    const result = await reconcileJobs(restoredWorker.services);
    expect(result.reenqueued).toBe(1);
    const connection = createRedis(restoredConfig.REDIS_URL);
    const producer = createProducer(connection, restoredPrefix);
    try {
      const queued = await producer.queue('render').getJob(open);
      expect(queued?.data).toMatchObject({ jobId: open, tenantId: a.tenant.id });
    } finally {
      await producer.close();
      connection.disconnect();
    }
  });
});
