import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import { newId } from '../shared/ids/ids.ts';
import { createProducer } from '../shared/queue/producer.ts';
import { createRedis } from '../shared/redis/redis.ts';
import { insertApiKey } from '../shared/testing/tenant-fixture.ts';
import { createBenchEnv } from './bench-env.ts';
import { profileBreakdown, topFunctions } from './cpu-profile-breakdown.ts';
import { cpuMs, cpuMsOf, syscallsOf } from './process-cpu.ts';

/**
 * `npm run bench:submit`: `POST /v1/renders` with BENCH_CONNECTIONS (32) concurrent clients on
 * one API key of an unlimited (enterprise) tenant, rate limits raised, for BENCH_SECONDS (10)
 * per round, against raw BullMQ `queue.add` with the same concurrency in the same run. Prints
 * accepted/s and latency p50/p99 per round and their medians over BENCH_ROUNDS (3), the CPU each
 * accepted request cost the API process, Postgres and Redis, and the CPU the load generator itself
 * spent per request (API and raw rounds alike).
 *
 * The API runs in a process of its own, started as `npm run start:api` starts it, so the load
 * generator (this process) does not share its event loop. BENCH_PROFILE=1 also takes a CPU
 * profile of the API during the rounds and prints where its time went.
 *
 * Why autocannon drives the HTTP rounds: the load generator runs on the same cores as the servers
 * it measures, so every µs it spends on a request is taken from them. Global `fetch` (undici)
 * cost this process 390–740 µs of CPU per API request and 290–440 µs per ceiling request, 4–7×
 * what the bare server spent, and held even that server to 2,500–3,900/s; autocannon writes
 * pre-built request bytes and parses little more than status and length: 38–85 µs per API
 * request, 11–34 µs per ceiling request (runs in the README). A real load test still runs its
 * generator on other machines. accepted/s, p50 and p99 are of 202 answers only; any other answer,
 * or a request left unanswered, is printed with its round, and the run then exits non-zero.
 *
 * Ceiling: each round also drives, with the same client, concurrency and round length, two
 * trivial servers in processes of their own (load/bench-submit-ceiling-server.ts) that answer
 * every submit with the bytes and content type of a real 202 captured in the warm-up: bare
 * `node:http`, and Express with `express.json`. Client and servers share this machine's cores,
 * so their rates are what any handler could reach here with this load generator. Round order:
 * API, raw, bare http, Express; each target gets one warm-up round first.
 */
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const PROFILE = process.env.BENCH_PROFILE === '1';
/** API_PROCESSES for the API under test (its CPU and system calls are summed over its processes). */
const API_PROCESSES = process.env.BENCH_API_PROCESSES ?? '1';
const ROOT = path.resolve(import.meta.dirname, '..');
const EXPRESS_VERSION = (createRequire(import.meta.url)('express/package.json') as { version: string })
  .version;

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
/** Polls `base`/healthz until it answers; throws when `child` exits first or after 30 s. */
async function waitUntilUp(child: ChildProcess, base: string, what: string): Promise<void> {
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`the ${what} exited with ${child.exitCode}`);
    const up = await fetch(`${base}/healthz`).then(
      (r) => r.ok,
      () => false,
    );
    if (up) return;
    if (i > 300) throw new Error(`the ${what} did not come up in 30 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
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
    env: {
      ...process.env,
      ...env.vars,
      LOG_LEVEL: 'error',
      PORT: String(port),
      PUBLIC_URL: url,
      API_PROCESSES,
    },
    stdio: 'inherit',
  },
);
const apiExited = new Promise<void>((resolve) => api.once('exit', () => resolve()));
// The bench database is dropped even when the API never comes up (it prints why on stderr).
try {
  await waitUntilUp(api, url, 'API');
} catch (err) {
  api.kill('SIGTERM');
  if (profileDir) await rm(profileDir, { recursive: true, force: true });
  await env.close();
  throw err;
}

const tenant = newId('ten');
const key = `rm_live_bench${newId('key').slice(4)}`;
const body = JSON.stringify({ scenes: [{ text: 'A short bench scene.' }] });
const connection = createRedis(env.config.redisTarget);
// Raw adds go to the same Redis and prefix; with fair share on, the API's renders wait on the
// fair-share lists (no worker runs here), so the BullMQ render queue holds only raw adds.
const producer = createProducer(connection, env.config.REDIS_PREFIX);
const rawQueue = producer.queue('render');

const pct = (s: number[], p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? Number.NaN;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;

/** What a round's load brought back: the latency of each accepted request, in ms, and the rest. */
interface Outcome {
  latencies: number[];
  /** Answers other than 202, by status code. */
  refused: Record<string, number>;
  /** Requests left without an answer (connection errors, timeouts included); autocannon reconnects. */
  errors: number;
  timeouts: number;
}

interface Round extends Outcome {
  perSecond: number;
  p50: number;
  p99: number;
  accepted: number;
  /**
   * CPU ms during the round of the server driven (the API process, or a ceiling server), all
   * Postgres processes, redis-server, and this process (the load generator, user + system).
   */
  cpu: { server: number; postgres: number; redis: number; client: number };
  /** Read and write system calls of the server process during the round. */
  syscalls: { reads: number; writes: number };
}

/** Runs `load` as one round, measuring its rate and the CPU of `server` (the process driven). */
async function measure(server: ChildProcess, load: () => Promise<Outcome>): Promise<Round> {
  const before = {
    server: cpuMsOf(server.pid!),
    postgres: cpuMs('postgres', database),
    redis: cpuMs('redis-server'),
  };
  const syscallsBefore = syscallsOf(server.pid!);
  const clientBefore = process.cpuUsage();
  const t0 = performance.now();
  const outcome = await load();
  const elapsed = (performance.now() - t0) / 1000;
  const client = process.cpuUsage(clientBefore);
  const cpu = {
    server: cpuMsOf(server.pid!) - before.server,
    postgres: cpuMs('postgres', database) - before.postgres,
    redis: cpuMs('redis-server') - before.redis,
    client: (client.user + client.system) / 1000,
  };
  const syscallsAfter = syscallsOf(server.pid!);
  const syscalls = {
    reads: syscallsAfter.reads - syscallsBefore.reads,
    writes: syscallsAfter.writes - syscallsBefore.writes,
  };
  const latencies = outcome.latencies.sort((a, b) => a - b);
  return {
    ...outcome,
    syscalls,
    perSecond: latencies.length / elapsed,
    p50: pct(latencies, 0.5),
    p99: pct(latencies, 0.99),
    accepted: latencies.length,
    cpu,
  };
}

/** A raw round: `op` from CONNECTIONS concurrent callers in this process for SECONDS. */
const loop = (op: () => Promise<void>) =>
  measure(api, async () => {
    const latencies: number[] = [];
    const until = performance.now() + SECONDS * 1000;
    await Promise.all(
      Array.from({ length: CONNECTIONS }, async () => {
        while (performance.now() < until) {
          const s = performance.now();
          await op();
          latencies.push(performance.now() - s);
        }
      }),
    );
    return { latencies, refused: {}, errors: 0, timeouts: 0 };
  });

const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
/** An HTTP round: the submit from autocannon's CONNECTIONS connections for SECONDS to `base`. */
const hammer = (base: string, server: ChildProcess = api) =>
  measure(
    server,
    () =>
      new Promise<Outcome>((resolve, reject) => {
        const latencies: number[] = [];
        const instance = autocannon(
          {
            url: `${base}/v1/renders`,
            connections: CONNECTIONS,
            duration: SECONDS,
            method: 'POST',
            headers,
            body,
            pipelining: 1,
            // autocannon ends a run at the first sample tick after `duration` (default every 1 s),
            // which made some 3 s rounds last 4 s; ticking every 100 ms keeps the round to
            // BENCH_SECONDS. Rates divide by the measured time either way.
            sampleInt: 100,
          },
          (err, result) => {
            if (err) return reject(err);
            const refused: Record<string, number> = {};
            for (const [code, { count = 0 }] of Object.entries(result.statusCodeStats ?? {}))
              if (code !== '202') refused[code] = count;
            resolve({ latencies, refused, errors: result.errors, timeouts: result.timeouts });
          },
        );
        // Not result.latency: its histogram keeps whole milliseconds (a bare server answers in a
        // few) and takes every 2xx; the event has each answer's exact time and status, so p50/p99
        // are of 202s only and computed as the raw rounds' are.
        instance.on('response', (_client, status, _bytes, ms) => {
          if (status === 202) latencies.push(ms);
        });
      }),
  );

/** The one-off submit (capture, byte check) that every HTTP round repeats, whichever server is behind `base`. */
const post = (base: string) => fetch(`${base}/v1/renders`, { method: 'POST', headers, body });
let n = 0;
const rawAdd = async () => {
  const id = `job_raw_${n++}`;
  await rawQueue.add('render.run', { jobId: id, tenantId: tenant }, { jobId: id });
};

interface Ceiling {
  label: string;
  child: ChildProcess;
  exited: Promise<void>;
  url: string;
}
// Pushed as soon as spawned, so the finally below stops a ceiling server that never came up too.
const ceilings: Ceiling[] = [];
async function startCeiling(kind: 'http' | 'express', label: string, reply: { bytes: Buffer; type: string }) {
  const ceilingPort = await freePort();
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'load/bench-submit-ceiling-server.ts', kind, String(ceilingPort)],
    {
      cwd: ROOT,
      env: {
        ...process.env,
        BENCH_CEILING_BODY_BASE64: reply.bytes.toString('base64'),
        BENCH_CEILING_CONTENT_TYPE: reply.type,
      },
      stdio: 'inherit',
    },
  );
  const ceiling: Ceiling = {
    label,
    child,
    exited: new Promise<void>((resolve) => child.once('exit', () => resolve())),
    url: `http://127.0.0.1:${ceilingPort}`,
  };
  ceilings.push(ceiling);
  await waitUntilUp(child, ceiling.url, `${label} ceiling server`);
  // Check the bytes rather than trust them: the ceiling is only a ceiling for the same answer.
  const res = await post(ceiling.url);
  const got = Buffer.from(await res.arrayBuffer());
  if (res.status !== 202 || res.headers.get('content-type') !== reply.type || !got.equals(reply.bytes))
    throw new Error(`the ${label} ceiling server does not answer as the API did`);
  return ceiling;
}

try {
  await env.db('tenants').insert({ id: tenant, name: 'bench', plan: 'enterprise' });
  await insertApiKey(env.db, { tenantId: tenant, key, name: 'bench' });
  const load = os.loadavg()[0]!.toFixed(2);
  await hammer(url); // warm-up: pools, JIT, caches
  // One real 202 (after the warm-up, so it is what a warm API answers) for the ceiling servers to repeat.
  const real = await post(url);
  const reply = {
    bytes: Buffer.from(await real.arrayBuffer()),
    type: real.headers.get('content-type') ?? '',
  };
  if (real.status !== 202) throw new Error(`the API answered the capture submit with ${real.status}`);
  const bare = await startCeiling('http', 'bare node:http', reply);
  const framework = await startCeiling('express', `Express ${EXPRESS_VERSION} + express.json`, reply);
  for (const c of [bare, framework]) await hammer(c.url, c.child); // warm-up
  const apiRounds: Round[] = [];
  const raw: Round[] = [];
  const bareRounds: Round[] = [];
  const expressRounds: Round[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    apiRounds.push(await hammer(url));
    raw.push(await loop(rawAdd));
    await rawQueue.obliterate({ force: true });
    bareRounds.push(await hammer(bare.url, bare.child));
    expressRounds.push(await hammer(framework.url, framework.child));
  }
  /** What was not accepted in a round, or '' when every request got its 202. */
  const failures = (x: Round) => {
    const parts = Object.entries(x.refused).map(([code, count]) => `${count} answered ${code}`);
    if (x.errors) parts.push(`${x.errors} unanswered (${x.timeouts} timed out)`);
    return parts.length ? ` (NOT ACCEPTED, not counted: ${parts.join(', ')})` : '';
  };
  const fmt = (x: Round) =>
    `${x.perSecond.toFixed(0)}/s p50 ${x.p50.toFixed(1)} ms p99 ${x.p99.toFixed(1)} ms${failures(x)}`;
  const us = (ms: number, count: number) => `${((ms * 1000) / Math.max(1, count)).toFixed(0)} µs`;
  const ceilingRounds = [
    { label: bare.label, rounds: bareRounds },
    { label: framework.label, rounds: expressRounds },
  ];
  console.log(
    `bench:submit — ${CONNECTIONS} connections, ${SECONDS} s per round, ${ROUNDS} rounds, ${os.availableParallelism()} cores, API_PROCESSES ${API_PROCESSES}, load average ${load} at the start`,
  );
  for (let r = 0; r < ROUNDS; r++) {
    const a = apiRounds[r]!;
    const q = raw[r]!;
    console.log(
      `round ${r + 1}: POST /v1/renders ${fmt(a)}   raw queue.add ${fmt(q)}   CPU per accepted request: API ${us(a.cpu.server, a.accepted)}, Postgres backends ${us(a.cpu.postgres, a.accepted)}, Redis ${us(a.cpu.redis, a.accepted)}; API system calls per request: ${(a.syscalls.reads / Math.max(1, a.accepted)).toFixed(1)} reads, ${(a.syscalls.writes / Math.max(1, a.accepted)).toFixed(1)} writes; load generator CPU per request: POST ${us(a.cpu.client, a.accepted)}, raw queue.add ${us(q.cpu.client, q.accepted)}`,
    );
    for (const c of ceilingRounds) {
      const x = c.rounds[r]!;
      console.log(
        `  ceiling, ${c.label}: ${fmt(x)}   CPU per request: server ${us(x.cpu.server, x.accepted)}, load generator ${us(x.cpu.client, x.accepted)}`,
      );
    }
  }
  const m = (xs: Round[], k: 'perSecond' | 'p50' | 'p99') => median(xs.map((x) => x[k]));
  const mus = (xs: Round[], k: 'server' | 'client') =>
    `${median(xs.map((x) => (x.cpu[k] * 1000) / Math.max(1, x.accepted))).toFixed(0)} µs`;
  console.log(
    `median: POST /v1/renders ${m(apiRounds, 'perSecond').toFixed(0)} accepted/s, p50 ${m(apiRounds, 'p50').toFixed(1)} ms, p99 ${m(apiRounds, 'p99').toFixed(1)} ms (targets ≥ 1500/s, p99 ≤ 50 ms); raw queue.add ${m(raw, 'perSecond').toFixed(0)}/s; ratio ${(m(apiRounds, 'perSecond') / m(raw, 'perSecond')).toFixed(3)}; load generator CPU per request: POST ${mus(apiRounds, 'client')}, raw queue.add ${mus(raw, 'client')}`,
  );
  for (const c of ceilingRounds) {
    console.log(
      `median ceiling, ${c.label}: ${m(c.rounds, 'perSecond').toFixed(0)} accepted/s, p50 ${m(c.rounds, 'p50').toFixed(1)} ms, p99 ${m(c.rounds, 'p99').toFixed(1)} ms; CPU per request: server ${mus(c.rounds, 'server')}, load generator ${mus(c.rounds, 'client')}; POST /v1/renders at ${(m(apiRounds, 'perSecond') / m(c.rounds, 'perSecond')).toFixed(3)} of it`,
    );
  }
  // A refusal (a 429, a 503) under load is a finding, not noise: the figures above leave it out,
  // so the run says so and fails rather than pass for a clean one.
  if ([...apiRounds, ...bareRounds, ...expressRounds].some((x) => failures(x))) {
    console.error(
      'bench:submit: some requests were not accepted (NOT ACCEPTED above); the rates count 202s only',
    );
    process.exitCode = 1;
  }
} finally {
  // Every ceiling server that was spawned, up or not, as the API below.
  for (const c of ceilings) {
    c.child.kill('SIGTERM');
    await c.exited;
  }
  await producer.close();
  connection.disconnect();
  api.kill('SIGTERM');
  await apiExited;
  if (profileDir) {
    // With API_PROCESSES > 1 every process writes a profile: read the busiest (the largest).
    const files = await Promise.all(
      (await readdir(profileDir)).map(async (f) => ({
        f,
        size: (await stat(path.join(profileDir, f))).size,
      })),
    );
    const file = files.sort((a, b) => b.size - a.size)[0]?.f;
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
