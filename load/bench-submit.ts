import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { hashSecret } from '../shared/crypto/tokens.ts';
import { newId } from '../shared/ids/ids.ts';
import { createProducer } from '../shared/queue/producer.ts';
import { createRedis } from '../shared/redis/redis.ts';
import { createBenchEnv } from './bench-env.ts';
import { profileBreakdown, topFunctions } from './cpu-profile-breakdown.ts';
import { cpuMs, cpuMsOf, syscallsOf } from './process-cpu.ts';

/**
 * `npm run bench:submit`: `POST /v1/renders` with BENCH_CONNECTIONS (32) concurrent clients on
 * one API key of an unlimited (enterprise) tenant, rate limits raised, for BENCH_SECONDS (10)
 * per round, against raw BullMQ `queue.add` with the same concurrency in the same run. Prints
 * accepted/s and latency p50/p99 per round and their medians over BENCH_ROUNDS (3), and the CPU
 * each accepted request cost the API process, Postgres and Redis.
 *
 * The API runs in a process of its own, started as `npm run start:api` starts it, so the load
 * generator (this process, as k6 would be) does not share its event loop. BENCH_PROFILE=1 also
 * takes a CPU profile of the API during the rounds and prints where its time went.
 */
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const PROFILE = process.env.BENCH_PROFILE === '1';
const ROOT = path.resolve(import.meta.dirname, '..');

const env = await createBenchEnv({
  RATE_LIMIT_PER_MINUTE: '100000000',
  RATE_LIMIT_BURST_PER_SECOND: '100000000',
});
const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
const port = await freePort();
// Postgres CPU is that of the backends serving the bench's own database (other work on the
// machine uses other databases).
const database = new URL(env.config.DATABASE_URL).pathname.slice(1);
const url = `http://127.0.0.1:${port}`;
const profileDir = PROFILE ? await mkdtemp(path.join(os.tmpdir(), 'rendermill-bench-prof-')) : null;
const api: ChildProcess = spawn(
  process.execPath,
  [
    '--import',
    'tsx',
    ...(profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir, '--cpu-prof-interval', '500'] : []),
    'shared/process/run.ts',
    'api/main.ts',
  ],
  {
    cwd: ROOT,
    // LOG_LEVEL error: a start-up failure says why; per-request lines (info) stay out of the figures.
    env: { ...process.env, ...env.vars, LOG_LEVEL: 'error', PORT: String(port), PUBLIC_URL: url },
    stdio: 'inherit',
  },
);
const apiExited = new Promise<void>((resolve) => api.once('exit', () => resolve()));
// The bench database is dropped even when the API never comes up (it prints why on stderr).
try {
  for (let i = 0; ; i++) {
    if (api.exitCode !== null) throw new Error(`the API exited with ${api.exitCode}`);
    const up = await fetch(`${url}/healthz`).then(
      (r) => r.ok,
      () => false,
    );
    if (up) break;
    if (i > 300) throw new Error('the API did not come up in 30 s');
    await new Promise((r) => setTimeout(r, 100));
  }
} catch (err) {
  api.kill('SIGTERM');
  if (profileDir) await rm(profileDir, { recursive: true, force: true });
  await env.close();
  throw err;
}

const tenant = newId('ten');
await env.db('tenants').insert({ id: tenant, name: 'bench', plan: 'enterprise' });
const key = `rm_live_bench${newId('key').slice(4)}`;
await env.db('api_keys').insert({
  id: newId('key'),
  tenant_id: tenant,
  name: 'bench',
  role: 'member',
  prefix: key.slice(0, 12),
  key_hash: hashSecret(key),
  last4: key.slice(-4),
});
const body = JSON.stringify({ scenes: [{ text: 'A short bench scene.' }] });
const connection = createRedis(env.config.redisTarget);
// Raw adds go to the same Redis and prefix; with fair share on, the API's renders wait on the
// fair-share lists (no worker runs here), so the BullMQ render queue holds only raw adds.
const producer = createProducer(connection, env.config.REDIS_PREFIX);
const rawQueue = producer.queue('render');

const pct = (s: number[], p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? Number.NaN;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;

interface Round {
  perSecond: number;
  p50: number;
  p99: number;
  errors: number;
  accepted: number;
  /** CPU ms of the API process, all Postgres processes and redis-server during the round. */
  cpu: { api: number; postgres: number; redis: number };
  /** Read and write system calls of the API process during the round. */
  syscalls: { reads: number; writes: number };
}

async function drive(op: () => Promise<boolean>): Promise<Round> {
  const latencies: number[] = [];
  let errors = 0;
  const before = {
    api: cpuMsOf(api.pid!),
    postgres: cpuMs('postgres', database),
    redis: cpuMs('redis-server'),
  };
  const syscallsBefore = syscallsOf(api.pid!);
  const until = performance.now() + SECONDS * 1000;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (performance.now() < until) {
        const s = performance.now();
        if (await op()) latencies.push(performance.now() - s);
        else errors++;
      }
    }),
  );
  const elapsed = (performance.now() - t0) / 1000;
  const cpu = {
    api: cpuMsOf(api.pid!) - before.api,
    postgres: cpuMs('postgres', database) - before.postgres,
    redis: cpuMs('redis-server') - before.redis,
  };
  const syscallsAfter = syscallsOf(api.pid!);
  const syscalls = {
    reads: syscallsAfter.reads - syscallsBefore.reads,
    writes: syscallsAfter.writes - syscallsBefore.writes,
  };
  latencies.sort((a, b) => a - b);
  return {
    syscalls,
    perSecond: latencies.length / elapsed,
    p50: pct(latencies, 0.5),
    p99: pct(latencies, 0.99),
    errors,
    accepted: latencies.length,
    cpu,
  };
}

const submit = async () => {
  const res = await fetch(`${url}/v1/renders`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body,
  });
  await res.text();
  return res.status === 202;
};
let n = 0;
const rawAdd = async () => {
  const id = `job_raw_${n++}`;
  await rawQueue.add('render.run', { jobId: id, tenantId: tenant }, { jobId: id });
  return true;
};

try {
  const load = os.loadavg()[0]!.toFixed(2);
  await drive(submit); // warm-up: pools, JIT, caches
  const apiRounds: Round[] = [];
  const raw: Round[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    apiRounds.push(await drive(submit));
    raw.push(await drive(rawAdd));
    await rawQueue.obliterate({ force: true });
  }
  const fmt = (x: Round) =>
    `${x.perSecond.toFixed(0)}/s p50 ${x.p50.toFixed(1)} ms p99 ${x.p99.toFixed(1)} ms${x.errors ? ` (${x.errors} non-202)` : ''}`;
  const us = (ms: number, count: number) => `${((ms * 1000) / Math.max(1, count)).toFixed(0)} µs`;
  console.log(
    `bench:submit — ${CONNECTIONS} connections, ${SECONDS} s per round, ${ROUNDS} rounds, load average ${load} at the start`,
  );
  for (let r = 0; r < ROUNDS; r++) {
    const a = apiRounds[r]!;
    console.log(
      `round ${r + 1}: POST /v1/renders ${fmt(a)}   raw queue.add ${fmt(raw[r]!)}   CPU per accepted request: API ${us(a.cpu.api, a.accepted)}, Postgres backends ${us(a.cpu.postgres, a.accepted)}, Redis ${us(a.cpu.redis, a.accepted)}; API system calls per request: ${(a.syscalls.reads / Math.max(1, a.accepted)).toFixed(1)} reads, ${(a.syscalls.writes / Math.max(1, a.accepted)).toFixed(1)} writes`,
    );
  }
  const m = (xs: Round[], k: 'perSecond' | 'p50' | 'p99') => median(xs.map((x) => x[k]));
  console.log(
    `median: POST /v1/renders ${m(apiRounds, 'perSecond').toFixed(0)} accepted/s, p50 ${m(apiRounds, 'p50').toFixed(1)} ms, p99 ${m(apiRounds, 'p99').toFixed(1)} ms (targets ≥ 1500/s, p99 ≤ 50 ms); raw queue.add ${m(raw, 'perSecond').toFixed(0)}/s; ratio ${(m(apiRounds, 'perSecond') / m(raw, 'perSecond')).toFixed(3)}`,
  );
} finally {
  await producer.close();
  connection.disconnect();
  api.kill('SIGTERM');
  await apiExited;
  if (profileDir) {
    const [file] = await readdir(profileDir);
    if (file) {
      console.log('where the API process spent its busy time (CPU profile, self time by kind of code):');
      for (const { group, share } of profileBreakdown(path.join(profileDir, file)))
        console.log(`  ${(share * 100).toFixed(1).padStart(5)} %  ${group}`);
      console.log('the functions with the most self time:');
      for (const { where, share } of topFunctions(path.join(profileDir, file), 25))
        console.log(`  ${(share * 100).toFixed(1).padStart(5)} %  ${where}`);
    }
    await rm(profileDir, { recursive: true, force: true });
  }
  await env.close();
}
