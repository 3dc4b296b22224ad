import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, open, rm, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { createDb, type Knex } from '../../shared/db/db.ts';
import { DEFAULT_PLANS, parsePlanCatalogue } from '../../shared/metering/plans.ts';
import { type FakeStripe, startFakeStripe } from '../../shared/testing/fake-stripe.ts';
import { startSmtpSink } from '../../shared/testing/smtp-sink.ts';
import { createLoadTenants } from '../runner/tenants.ts';
import { checkInvariants, type Figure, orphanProcesses } from './checks.ts';
import { freePort, startOwnPostgres, startOwnRedis, waitUntil } from './datastores.ts';
import { startApi, startWorkers } from './services.ts';

/**
 * `npm run soak -- --minutes N` (default 10): several tenants on different plans submit renders,
 * TTS, images and exports at a steady rate against a real API and two supervised workers, on the
 * soak's own Redis and Postgres, while faults are injected; then it waits for quiescence, checks
 * the invariants, prints every figure and exits 1 if any invariant broke. Not part of npm test.
 */
const exec = promisify(execFile);
const argMinutes = process.argv.indexOf('--minutes');
const MINUTES = argMinutes > 0 ? Number(process.argv[argMinutes + 1]) : 10;
if (!(MINUTES > 0)) throw new Error('--minutes takes a positive number');
const DURATION_MS = MINUTES * 60_000;
const SUBMIT_EVERY_MS = 1_200;
const KILL_EVERY_MS = 45_000;
const ROOT = path.resolve(import.meta.dirname, '../..');
const renderShort = JSON.parse(readFileSync(path.join(ROOT, 'load/fixtures/render-short.json'), 'utf8'));

interface Submission {
  at: number;
  ms: number;
  status: number;
  kind: string;
}
interface FaultWindow {
  name: string;
  start: number;
  end: number;
  recoveryMs?: number;
  note?: string;
}

const cleanups: Array<() => Promise<unknown>> = [];
async function cleanup(): Promise<void> {
  while (cleanups.length) await (cleanups.pop() as () => Promise<unknown>)().catch((e) => console.error(e));
}
process.once('SIGINT', () => void cleanup().then(() => process.exit(130)));
process.once('SIGTERM', () => void cleanup().then(() => process.exit(143)));

const t0 = Date.now();
const log = (msg: string) =>
  console.log(`[soak +${((Date.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${msg}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<number> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'rendermill-soak-'));
  cleanups.push(() => rm(root, { recursive: true, force: true }));
  const dirs = {
    redis: path.join(root, 'redis'),
    pg: path.join(root, 'pg'),
    storage: path.join(root, 'storage'),
    tmp: path.join(root, 'tmp'),
    logs: path.join(root, 'logs'),
  };
  for (const d of [dirs.storage, dirs.tmp, dirs.logs]) await mkdir(d, { recursive: true });

  // Storage on a 256 MiB tmpfs, so "disk full" is a real ENOSPC. Needs root; else no disk fault.
  const mounted = await exec('mount', ['-t', 'tmpfs', '-o', 'size=256m', 'tmpfs', dirs.storage]).then(
    () => true,
    () => false,
  );
  if (mounted) cleanups.push(() => exec('umount', ['-l', dirs.storage]));

  const redis = await startOwnRedis(dirs.redis);
  cleanups.push(() => redis.stop());
  const pg = await startOwnPostgres(dirs.pg);
  cleanups.push(() => pg.stop());
  log(
    `own redis on :${redis.port} (AOF), own postgres on :${pg.port}, storage ${mounted ? 'tmpfs 256 MiB' : 'plain dir'}`,
  );

  const stripe = await startFakeStripe();
  cleanups.push(() => stripe.close());
  const smtpPort = await freePort();
  let smtp = await startSmtpSink(smtpPort);
  let mailsReceived = 0;
  cleanups.push(() => smtp.close());

  const plansFile = path.join(root, 'plans.json');
  const plans = structuredClone(DEFAULT_PLANS) as Record<string, { limits: Record<string, number | null> }>;
  // Hard limits low enough that the free tenants reach 80 % and 100 % (alerts mailed, then 402s).
  (plans.free as { limits: Record<string, number | null> }).limits = {
    render_seconds: 120,
    tts_seconds: 300,
    images: 50,
    storage_bytes: null,
  };
  await writeFile(plansFile, JSON.stringify(plans));
  const catalogue = parsePlanCatalogue(plans);

  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/tmp',
    TMPDIR: dirs.tmp,
    NODE_ENV: 'production',
    DATABASE_URL: pg.url,
    REDIS_URL: redis.url,
    REDIS_PREFIX: 'soak',
    JWT_SECRET: randomBytes(32).toString('hex'),
    PUBLIC_URL: 'http://127.0.0.1',
    STORAGE_DIR: dirs.storage,
    SMTP_URL: `smtp://127.0.0.1:${smtpPort}`,
    STRIPE_SECRET_KEY: 'sk_test_soak',
    STRIPE_API_URL: stripe.url,
    PLANS_FILE: plansFile,
    LOG_LEVEL: 'warn',
    WORKER_CONCURRENCY: '2',
    RECONCILE_INTERVAL_SECONDS: '10',
    RECONCILE_QUIET_SECONDS: '10',
    EXPORT_INLINE_OUTPUTS_MAX_BYTES: '1000000',
    RATE_LIMIT_PER_MINUTE: '600',
    RATE_LIMIT_BURST_PER_SECOND: '50',
  };
  const api = await startApi(env, dirs.logs);
  cleanups.push(() => api.stop());
  const workers = await startWorkers(2, env, dirs.logs);
  cleanups.push(() => workers.stop());
  const db = createDb(pg.url, { poolMax: 4 });
  cleanups.push(() => db.destroy());
  log(`api ${api.url}, 2 workers; logs in ${dirs.logs}`);

  const tenants = await createLoadTenants(
    db,
    ['free', 'free', 'pro', 'pro', 'enterprise', 'enterprise'],
    'soak',
  );
  log(`tenants: ${tenants.map((t) => t.plan).join(', ')}`);

  // --- load ---------------------------------------------------------------------------------
  // Faults are scheduled from here: setting up took a while on a busy machine.
  const loadStart = Date.now();
  const submissions: Submission[] = [];
  const accepted = new Set<string>();
  let inFlight = 0;
  let seq = 0;
  const submitOne = async () => {
    const n = seq++;
    const tenant = tenants[n % tenants.length] as (typeof tenants)[number];
    const pick = (n * 7919) % 100;
    const [kind, route, body] =
      pick < 15
        ? ['render', '/v1/renders', renderShort]
        : pick < 50
          ? [
              'tts',
              '/v1/tts',
              {
                text: `Soak sentence ${n} for a tenant on the ${tenant.plan} plan.`,
                format: n % 2 ? 'mp3' : 'wav',
              },
            ]
          : pick < 97
            ? ['image', '/v1/images', { title: `Card ${n}`, text: 'soak', width: 640, height: 360 }]
            : ['export', '/v1/account/export', undefined];
    const at = Date.now();
    let status = 0;
    inFlight++;
    try {
      const res = await fetch(`${api.url}${route}`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${tenant.key}`,
          'content-type': 'application/json',
          'idempotency-key': `soak-${n}`,
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(10_000),
      });
      status = res.status;
      const json = (await res.json().catch(() => ({}))) as { id?: string };
      if (status === 202 && json.id) accepted.add(json.id);
    } catch {
      status = 0; // timeout or connection refused
    } finally {
      inFlight--;
      submissions.push({ at, ms: Date.now() - at, status, kind });
    }
  };
  let loading = true;
  const loadLoop = (async () => {
    while (loading) {
      if (inFlight < 30) void submitOne();
      await sleep(SUBMIT_EVERY_MS);
    }
  })();

  // --- faults -------------------------------------------------------------------------------
  const faults: FaultWindow[] = [];
  const kills: FaultWindow[] = [];
  const at = (fraction: number) => sleep(Math.max(0, loadStart + fraction * DURATION_MS - Date.now()));
  const window = (name: string) => {
    const w: FaultWindow = { name, start: Date.now(), end: 0 };
    faults.push(w);
    log(`fault: ${name}`);
    return w;
  };
  const readyAll = async () => {
    const urls = [`${api.url}/readyz`, ...workers.metricsUrls().map((u) => u.replace('/metrics', '/readyz'))];
    const answers = await Promise.all(urls.map((u) => fetch(u, { signal: AbortSignal.timeout(2_000) })));
    return answers.every((r) => r.ok);
  };
  const timeTo = async (probe: () => Promise<boolean>, limitMs = 300_000) => {
    const start = Date.now();
    await waitUntil('recovery', probe, limitMs).catch(() => undefined);
    return Date.now() - start;
  };
  const killer = (async () => {
    await sleep(30_000);
    while (loading) {
      const start = Date.now();
      try {
        const { slot, readyAfterMs } = await workers.killRandom();
        kills.push({
          name: `worker ${slot} SIGKILL`,
          start,
          end: start + readyAfterMs,
          recoveryMs: readyAfterMs,
        });
      } catch (err) {
        log(`worker kill: ${String(err)}`);
      }
      await sleep(Math.max(1_000, KILL_EVERY_MS - 5_000 + Math.random() * 10_000 - (Date.now() - start)));
    }
  })();
  const stripeMs = Math.min(120_000, 0.2 * DURATION_MS);
  const smallMs = Math.min(60_000, 0.1 * DURATION_MS);
  const schedule = (async () => {
    await at(0.15);
    let w = window('redis restart (SIGKILL, AOF everysec)');
    await redis.restart(3_000);
    w.end = Date.now();
    w.recoveryMs = await timeTo(readyAll);

    await at(0.3);
    w = window('postgres restart (immediate stop)');
    await pg.restart(3_000);
    w.end = Date.now();
    w.recoveryMs = await timeTo(readyAll);

    await at(0.4);
    w = window(`fake Stripe fails 20 % of calls for ${stripeMs / 1000} s`);
    stripe.failRandomly(0.2, 500);
    await sleep(stripeMs);
    stripe.failRandomly(0);
    w.end = Date.now();
    const stripeEnd = new Date(w.end);
    const sw = w;
    void timeTo(async () => (await unreported(db, stripeEnd)) === 0).then((ms) => {
      sw.recoveryMs = ms;
    });

    await at(0.625);
    w = window(`SMTP sink stopped for ${smallMs / 1000} s`);
    mailsReceived += smtp.mails.length;
    await smtp.close();
    await sleep(smallMs);
    smtp = await startSmtpSink(smtpPort);
    w.end = Date.now();
    const mailEnd = new Date(w.end);
    const pendingAtEnd = await pendingMails(db, mailEnd);
    w.note = `${pendingAtEnd} mail(s) waited`;
    const mw = w;
    void timeTo(async () => (await pendingMails(db, mailEnd)) === 0).then((ms) => {
      mw.recoveryMs = ms;
    });

    await at(0.75);
    w = window(
      `storage full (${mounted ? 'tmpfs at quota' : 'not injected: no tmpfs'}) for ${smallMs / 1000} s`,
    );
    const filler = path.join(dirs.storage, 'filler.bin');
    if (mounted) await fillDisk(filler);
    await sleep(smallMs);
    await unlink(filler).catch(() => undefined);
    w.end = Date.now();
    const diskEnd = new Date(w.end);
    w.recoveryMs = await timeTo(async () => {
      const row = await db('jobs').where('finished_at', '>', diskEnd).whereNotNull('output_key').first('id');
      return !!row;
    });
  })();

  await sleep(Math.max(0, loadStart + DURATION_MS - Date.now()));
  loading = false;
  await loadLoop;
  await killer;
  await schedule;
  log(`load stopped: ${submissions.length} submissions, ${accepted.size} accepted; waiting for quiescence`);

  // --- quiescence ---------------------------------------------------------------------------
  const quiet = Date.now();
  await waitUntil(
    'every accepted job to finish',
    async () =>
      Number(
        (
          await db('jobs')
            .whereIn('id', [...accepted])
            .whereIn('status', ['queued', 'running'])
            .count({ n: '*' })
        )[0]?.n,
      ) === 0,
    600_000,
  ).catch((e) => log(String(e)));
  await waitUntil(
    'usage reported to Stripe',
    async () => (await unreported(db, new Date())) === 0,
    300_000,
  ).catch((e) => log(String(e)));
  await waitUntil(
    'usage-alert mails sent',
    async () => (await pendingMails(db, new Date())) === 0,
    180_000,
  ).catch((e) => log(String(e)));
  log(`quiet after ${((Date.now() - quiet) / 1000).toFixed(0)} s`);
  mailsReceived += smtp.mails.length;

  const figures = await checkInvariants({
    db,
    accepted,
    stripe,
    plans: catalogue,
    storageDir: dirs.storage,
    marker: root,
  });
  const leftovers = (await exec('ls', [dirs.tmp])).stdout.split('\n').filter(Boolean);
  figures.push({
    name: 'job work dirs left in TMPDIR',
    value: `${leftovers.length} (from workers SIGKILLed mid-job; a live worker removes its own)`,
    ok: null,
  });
  figures.push({ name: 'worker restarts by the supervisor', value: String(workers.restarts()), ok: null });
  figures.push({ name: 'usage-alert mails delivered', value: String(mailsReceived), ok: null });

  printReport({ submissions, faults, kills, figures, minutes: MINUTES, accepted: accepted.size, stripe });
  await workers.stop();
  await api.stop();
  const after = orphanProcesses(root);
  const afterStop: Figure = {
    name: 'ffmpeg/espeak-ng left after the workers stopped',
    value: String(after.length),
    ok: after.length === 0,
  };
  console.log(line(afterStop));
  const broken = [...figures, afterStop].filter((f) => f.ok === false);
  console.log(
    broken.length
      ? `\nSOAK FAILED: ${broken.map((f) => f.name).join('; ')}`
      : '\nsoak passed: every invariant held',
  );
  return broken.length ? 1 : 0;
}

/** Ledger rows owed to Stripe (a customer, a metered metric) that happened before `before` and are unreported. */
async function unreported(db: Knex, before: Date): Promise<number> {
  const r = await db('usage_events as e')
    .join('tenants as t', 't.id', 'e.tenant_id')
    .whereNotNull('t.stripe_customer_id')
    .whereIn('e.metric', ['render_seconds', 'tts_seconds', 'images'])
    .whereNull('e.reported_at')
    .where('e.occurred_at', '<=', before)
    .count({ n: '*' });
  return Number(r[0]?.n ?? 0);
}

async function pendingMails(db: Knex, before: Date): Promise<number> {
  const r = await db('usage_alerts').whereNull('sent_at').where('created_at', '<=', before).count({ n: '*' });
  return Number(r[0]?.n ?? 0);
}

async function fillDisk(file: string): Promise<void> {
  const fh = await open(file, 'w');
  const chunk = Buffer.alloc(4 << 20);
  try {
    for (;;) await fh.write(chunk);
  } catch {
    // ENOSPC: the volume is full
  } finally {
    await fh.close().catch(() => undefined);
  }
}

function pct(xs: number[], p: number): number {
  if (!xs.length) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)] as number;
}

function line(f: Figure): string {
  const mark = f.ok === null ? '    ' : f.ok ? ' ok ' : 'FAIL';
  return `${mark} ${f.name.padEnd(38)} ${f.value}`;
}

function printReport(r: {
  submissions: Submission[];
  faults: FaultWindow[];
  kills: FaultWindow[];
  figures: Figure[];
  minutes: number;
  accepted: number;
  stripe: FakeStripe;
}): void {
  const s = r.submissions;
  const statuses = new Map<number, number>();
  for (const x of s) statuses.set(x.status, (statuses.get(x.status) ?? 0) + 1);
  console.log(`\n=== soak: ${r.minutes} min, ${s.length} submissions, ${r.accepted} accepted ===`);
  console.log(
    `answers: ${[...statuses]
      .sort((a, b) => a[0] - b[0])
      .map(([k, n]) => `${k || 'no answer'} ×${n}`)
      .join(', ')}`,
  );
  const inAny = (x: Submission) =>
    [...r.faults, ...r.kills].some((w) => x.at >= w.start && x.at <= (w.end || Date.now()));
  const row = (name: string, xs: Submission[], recovery: string) => {
    const ms = xs.map((x) => x.ms);
    const refused = xs.filter((x) => x.status !== 202 && x.status !== 402).length;
    console.log(
      `${name.padEnd(46)} ${String(xs.length).padStart(5)} ${String(refused).padStart(7)} ${String(pct(ms, 0.95)).padStart(7)} ${String(ms.length ? Math.max(...ms) : 0).padStart(7)}  ${recovery}`,
    );
  };
  console.log(
    `\n${'submit latency (ms) by period'.padEnd(46)} ${'count'.padStart(5)} ${'not-2xx'.padStart(7)} ${'p95'.padStart(7)} ${'max'.padStart(7)}  recovery after the fault`,
  );
  row(
    'no fault',
    s.filter((x) => !inAny(x)),
    '',
  );
  const killSubs = s.filter((x) => r.kills.some((w) => x.at >= w.start && x.at <= w.end));
  const rec = r.kills.map((k) => k.recoveryMs ?? 0);
  row(
    `worker SIGKILL ×${r.kills.length} (until replacement ready)`,
    killSubs,
    r.kills.length
      ? `replacement ready: median ${(pct(rec, 0.5) / 1000).toFixed(1)} s, max ${(Math.max(...rec) / 1000).toFixed(1)} s`
      : '',
  );
  for (const w of r.faults) {
    const xs = s.filter((x) => x.at >= w.start && x.at <= w.end);
    const what = w.name.startsWith('fake Stripe')
      ? 'usage from before the end all reported'
      : w.name.startsWith('SMTP')
        ? `mails from before the end all sent (${w.note})`
        : w.name.startsWith('storage')
          ? 'first output stored after the end'
          : 'API and workers ready';
    row(
      w.name,
      xs,
      w.recoveryMs === undefined
        ? `${what}: not within 5 min`
        : `${what}: ${(w.recoveryMs / 1000).toFixed(1)} s`,
    );
  }
  console.log(
    `\nStripe requests: ${r.stripe.requests.length}; 'not-2xx' excludes 402 quota answers (expected on free)\n`,
  );
  for (const f of r.figures) console.log(line(f));
}

let code = 1;
try {
  code = await main();
} catch (err) {
  console.error('soak aborted:', err);
} finally {
  await cleanup();
}
process.exit(code);
