import { newSecret } from '../shared/crypto/tokens.ts';
import { newId } from '../shared/ids/ids.ts';
import { estimateImage } from '../shared/jobs/estimate.ts';
import { imageRequestSchema } from '../shared/jobs/job-requests.ts';
import { DEFAULT_PLANS } from '../shared/metering/plans.ts';
import { createProducer } from '../shared/queue/producer.ts';
import { createRedis } from '../shared/redis/redis.ts';
import { start } from '../workers/main.ts';
import { createBenchEnv } from './bench-env.ts';

/**
 * `npm run bench:fairness`: tenant A submits 200 short jobs (PNG cards), then tenants B–E submit
 * 10 each, against one worker process; once with fair share and once with plain FIFO, in the
 * same run. Reports Jain's fairness index of worker time across the five tenants while all of
 * them have work (plain, and weighted by plan priority in a second fair round where B and C are
 * on `pro`), B–E's p95 queue wait against one job's median duration, and throughput (jobs per
 * second of makespan) fair vs FIFO. BENCH_ROUNDS (default 3) repeats everything; medians are
 * printed.
 */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 2);
const request = imageRequestSchema.parse({ width: 640, height: 360, text: 'Fair share', title: 'Bench' });

interface Row {
  tenant: string;
  created: number;
  started: number;
  finished: number;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor((s.length - 1) / 2)]! : Number.NaN;
};
const p95 = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(s.length * 0.95) - 1)]!;
};
/** (Σx)² / (n Σx²): 1 when all equal, 1/n when one tenant has everything. */
const jain = (xs: number[]) =>
  xs.reduce((a, b) => a + b, 0) ** 2 / (xs.length * xs.reduce((a, b) => a + b * b, 0));

async function runOnce(fair: boolean, plans: Record<string, string>) {
  const env = await createBenchEnv({
    WORKER_QUEUES: 'media',
    WORKER_CONCURRENCY: String(CONCURRENCY),
    FAIR_SHARE: String(fair),
    FAIR_SHARE_PREFETCH: String(CONCURRENCY),
  });
  const connection = createRedis(env.config.redisTarget);
  const producer = createProducer(connection, env.config.REDIS_PREFIX, { fairShare: fair });
  const tenants: Record<string, string> = {};
  for (const name of ['A', 'B', 'C', 'D', 'E']) {
    const id = newId('ten');
    await env
      .db('tenants')
      .insert({ id, name, plan: plans[name] ?? 'free', webhook_secret: newSecret('whsec_', 24) });
    tenants[name] = id;
  }
  const submit = async (name: string, n: number) => {
    const plan = plans[name] ?? 'free';
    const priority = DEFAULT_PLANS[plan]?.priority ?? 10;
    const rows = Array.from({ length: n }, () => ({
      id: newId('job'),
      tenant_id: tenants[name]!,
      kind: 'image' as const,
      payload: JSON.stringify(request),
      estimate: JSON.stringify(estimateImage(request)),
      priority,
    }));
    await env.db('jobs').insert(rows);
    for (const r of rows)
      await producer.enqueueJob({ id: r.id, tenant_id: r.tenant_id, kind: 'image', priority });
  };
  const worker = await start(env.config);
  try {
    const t0 = Date.now();
    await submit('A', 200);
    // B–E arrive once A's backlog is queued and the workers are busy with it.
    await new Promise((r) => setTimeout(r, 300));
    const tJoin = Date.now();
    for (const name of ['B', 'C', 'D', 'E']) await submit(name, 10);
    for (;;) {
      const open = await env.db('jobs').whereIn('status', ['queued', 'running']).count({ n: '*' }).first();
      if (Number(open?.n) === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const byId = Object.fromEntries(Object.entries(tenants).map(([k, v]) => [v, k]));
    const rows: Row[] = (
      await env.db('jobs').select('tenant_id', 'status', 'created_at', 'started_at', 'finished_at')
    ).map((r) => ({
      tenant: byId[r.tenant_id]!,
      created: r.created_at.getTime(),
      // A job that never started or finished reads as the epoch, as `new Date(null)` did.
      started: r.started_at?.getTime() ?? 0,
      finished: r.finished_at?.getTime() ?? 0,
    }));
    const failed = (await env.db('jobs').whereNot({ status: 'succeeded' }).count({ n: '*' }).first())?.n;
    // "While all have work": from B–E's arrival until the first tenant's last job finished.
    const lastOf = (t: string) => Math.max(...rows.filter((r) => r.tenant === t).map((r) => r.finished));
    const windowEnd = Math.min(...['A', 'B', 'C', 'D', 'E'].map(lastOf));
    const busy = (t: string) =>
      rows
        .filter((r) => r.tenant === t)
        .reduce((s, r) => s + Math.max(0, Math.min(r.finished, windowEnd) - Math.max(r.started, tJoin)), 0);
    const time = ['A', 'B', 'C', 'D', 'E'].map(busy);
    const weights = ['A', 'B', 'C', 'D', 'E'].map((t) => {
      const pr = DEFAULT_PLANS[plans[t] ?? 'free']?.priority ?? 10;
      return Math.max(1, Math.round(10 / pr));
    });
    const be = rows.filter((r) => r.tenant !== 'A');
    const waitsBE = be.map((r) => r.started - r.created);
    // Head-of-line wait: from when a job became its tenant's oldest waiting one (submitted, and
    // the tenant's previous job started) until it started — the wait for a slot, not for one's
    // own earlier jobs.
    const headWaitsBE = ['B', 'C', 'D', 'E'].flatMap((t) => {
      const own = rows.filter((r) => r.tenant === t).sort((a, b) => a.started - b.started);
      return own.map((r, i) => r.started - Math.max(r.created, i > 0 ? own[i - 1]!.started : 0));
    });
    const firstStartBE = ['B', 'C', 'D', 'E'].map(
      (t) => Math.min(...rows.filter((r) => r.tenant === t).map((r) => r.started)) - tJoin,
    );
    const makespan = Math.max(...rows.map((r) => r.finished)) - t0;
    return {
      jain: jain(time),
      jainWeighted: jain(time.map((x, i) => x / weights[i]!)),
      p95WaitBE: p95(waitsBE),
      p95HeadWaitBE: p95(headWaitsBE),
      firstStartBE: Math.max(...firstStartBE),
      jobMs: median(rows.map((r) => r.finished - r.started)),
      throughput: (rows.length / makespan) * 1000,
      failed: Number(failed),
      time,
    };
  } finally {
    await worker.stop();
    await producer.close();
    connection.disconnect();
    await env.close();
  }
}

const fairRuns: Awaited<ReturnType<typeof runOnce>>[] = [];
const weightedRuns: Awaited<ReturnType<typeof runOnce>>[] = [];
const fifoRuns: Awaited<ReturnType<typeof runOnce>>[] = [];
for (let i = 0; i < ROUNDS; i++) {
  fairRuns.push(await runOnce(true, {}));
  fifoRuns.push(await runOnce(false, {}));
  weightedRuns.push(await runOnce(true, { B: 'pro', C: 'pro' }));
  const last = (runs: typeof fairRuns) => runs[runs.length - 1]!;
  console.error(
    `round ${i + 1}/${ROUNDS}: Jain fair ${last(fairRuns).jain.toFixed(3)} FIFO ${last(fifoRuns).jain.toFixed(3)} weighted ${last(weightedRuns).jainWeighted.toFixed(3)}; B–E p95 head-of-line wait fair ${Math.round(last(fairRuns).p95HeadWaitBE)} ms, job ${Math.round(last(fairRuns).jobMs)} ms; throughput fair ${last(fairRuns).throughput.toFixed(2)}/s FIFO ${last(fifoRuns).throughput.toFixed(2)}/s`,
  );
}
type Metric =
  | 'jain'
  | 'jainWeighted'
  | 'p95WaitBE'
  | 'p95HeadWaitBE'
  | 'firstStartBE'
  | 'jobMs'
  | 'throughput';
const m = (runs: typeof fairRuns, k: Metric) => median(runs.map((r) => r[k]));
const f2 = (x: number) => x.toFixed(3);
const ms = (x: number) => `${Math.round(x)} ms`;
const list = (runs: typeof fairRuns, k: Metric) =>
  runs
    .map((r) =>
      k === 'jain' || k === 'jainWeighted' || k === 'throughput' ? r[k].toFixed(3) : Math.round(r[k]),
    )
    .join(', ');
const times = (k: Metric) =>
  `fair ${ms(m(fairRuns, k))} = ${(m(fairRuns, k) / m(fairRuns, 'jobMs')).toFixed(1)}× a job (runs: ${list(fairRuns, k)})   FIFO ${ms(m(fifoRuns, k))} = ${(m(fifoRuns, k) / m(fifoRuns, 'jobMs')).toFixed(1)}× a job`;
console.log(`workload           A: 200 image jobs, then B–E: 10 each; 1 worker × ${CONCURRENCY} slots; ${ROUNDS} rounds (medians)
job duration       median ${ms(m(fairRuns, 'jobMs'))} (fair), ${ms(m(fifoRuns, 'jobMs'))} (FIFO)
Jain, all free     fair ${f2(m(fairRuns, 'jain'))} (runs: ${list(fairRuns, 'jain')})   FIFO ${f2(m(fifoRuns, 'jain'))} (runs: ${list(fifoRuns, 'jain')})   target ≥ 0.95
Jain weighted      fair ${f2(m(weightedRuns, 'jainWeighted'))} (B, C on pro = weight 2; runs: ${list(weightedRuns, 'jainWeighted')})   target ≥ 0.9
B–E p95 head-of-line wait  ${times('p95HeadWaitBE')}   target ≤ 3×
B–E first job started      ${times('firstStartBE')}
B–E p95 wait since submit  ${times('p95WaitBE')}   (includes waiting behind the tenant's own 9 earlier jobs)
throughput         fair ${m(fairRuns, 'throughput').toFixed(1)} jobs/s, FIFO ${m(fifoRuns, 'throughput').toFixed(1)} jobs/s → ${(m(fairRuns, 'throughput') / m(fifoRuns, 'throughput')).toFixed(3)}× (runs fair: ${list(fairRuns, 'throughput')}; FIFO: ${list(fifoRuns, 'throughput')})   target ≥ 0.95×
failed jobs        ${[...fairRuns, ...fifoRuns, ...weightedRuns].reduce((s, r) => s + r.failed, 0)}`);
