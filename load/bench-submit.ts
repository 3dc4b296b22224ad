import { start } from '../api/main.ts';
import { hashSecret } from '../shared/crypto/tokens.ts';
import { newId } from '../shared/ids/ids.ts';
import { createProducer } from '../shared/queue/producer.ts';
import { createRedis } from '../shared/redis/redis.ts';
import { createBenchEnv } from './bench-env.ts';

/**
 * `npm run bench:submit`: `POST /v1/renders` with BENCH_CONNECTIONS (32) concurrent clients on
 * one API key of an unlimited (enterprise) tenant, rate limits raised, for BENCH_SECONDS (10)
 * per round, against raw BullMQ `queue.add` with the same concurrency in the same run. Prints
 * accepted/s and latency p50/p99 per round and their medians over BENCH_ROUNDS (3).
 */
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

const env = await createBenchEnv({
  RATE_LIMIT_PER_MINUTE: '100000000',
  RATE_LIMIT_BURST_PER_SECOND: '100000000',
});
const api = await start(env.config);
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

async function drive(
  op: () => Promise<boolean>,
): Promise<{ perSecond: number; p50: number; p99: number; errors: number }> {
  const latencies: number[] = [];
  let errors = 0;
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
  latencies.sort((a, b) => a - b);
  return {
    perSecond: latencies.length / elapsed,
    p50: pct(latencies, 0.5),
    p99: pct(latencies, 0.99),
    errors,
  };
}

const submit = async () => {
  const res = await fetch(`${api.url}/v1/renders`, {
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
  await drive(submit); // warm-up: pools, JIT
  const api_: Awaited<ReturnType<typeof drive>>[] = [];
  const raw: Awaited<ReturnType<typeof drive>>[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    api_.push(await drive(submit));
    raw.push(await drive(rawAdd));
    await rawQueue.obliterate({ force: true });
  }
  const fmt = (x: Awaited<ReturnType<typeof drive>>) =>
    `${x.perSecond.toFixed(0)}/s p50 ${x.p50.toFixed(1)} ms p99 ${x.p99.toFixed(1)} ms${x.errors ? ` (${x.errors} non-202)` : ''}`;
  console.log(`bench:submit — ${CONNECTIONS} connections, ${SECONDS} s per round, ${ROUNDS} rounds`);
  for (let r = 0; r < ROUNDS; r++)
    console.log(`round ${r + 1}: POST /v1/renders ${fmt(api_[r]!)}   raw queue.add ${fmt(raw[r]!)}`);
  const m = (xs: typeof api_, k: 'perSecond' | 'p50' | 'p99') => median(xs.map((x) => x[k]));
  console.log(
    `median: POST /v1/renders ${m(api_, 'perSecond').toFixed(0)} accepted/s, p50 ${m(api_, 'p50').toFixed(1)} ms, p99 ${m(api_, 'p99').toFixed(1)} ms (targets ≥ 1500/s, p99 ≤ 50 ms); raw queue.add ${m(raw, 'perSecond').toFixed(0)}/s; ratio ${(m(api_, 'perSecond') / m(raw, 'perSecond')).toFixed(3)}`,
  );
} finally {
  await producer.close();
  connection.disconnect();
  await api.stop();
  await env.close();
}
