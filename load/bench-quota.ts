import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { start } from '../api/main.ts';
import { hashSecret } from '../shared/crypto/tokens.ts';
import { createDb } from '../shared/db/db.ts';
import { newId } from '../shared/ids/ids.ts';
import { periodKey } from '../shared/metering/periods.ts';
import { parsePlanCatalogue } from '../shared/metering/plans.ts';
import { createQuotaService } from '../shared/metering/quota-service.ts';
import { createBenchEnv } from './bench-env.ts';

/**
 * `npm run bench:quota`: submission latency with an empty ledger and with 10 million ledger rows
 * for the same tenant, in one run, on a dedicated database created and dropped here. Two series
 * per state: `reserve` alone in its own transaction (the quota check), and the whole
 * `POST /v1/renders` through the real API (auth, validation, plan gate, job + reservation
 * transaction, enqueue). The quota check reads only `usage_counters`, so the ratio should be ~1.
 *
 * A before/after comparison also measures whatever else the machine did meanwhile, so the
 * second state is measured alongside a control tenant with an empty ledger, in alternating
 * blocks: "10M / control" isolates the ledger's effect.
 *
 * Environment: BENCH_LEDGER_ROWS (10 000 000), BENCH_RESERVES (2 000), BENCH_SUBMITS (500).
 */
const LEDGER_ROWS = Number(process.env.BENCH_LEDGER_ROWS ?? 10_000_000);
const RESERVES = Number(process.env.BENCH_RESERVES ?? 2_000);
const SUBMITS = Number(process.env.BENCH_SUBMITS ?? 500);
const ROUNDS = 10;
const TENANT = 'ten_bench_quota';
const CONTROL = 'ten_bench_control';
// A hard-limit plan (the conditional path) with room for every submission of the run.
const PLANS = {
  free: {
    limits: { render_seconds: 1e12, tts_seconds: 1e12, images: 1e12, storage_bytes: null },
    max_resolution: '1080p',
    overage: false,
  },
};

interface Figures {
  reserve: { p50: number; p99: number };
  submit: { p50: number; p99: number };
}

const plansFile = path.join(os.tmpdir(), `rendermill-bench-plans-${process.pid}.json`);
await writeFile(plansFile, JSON.stringify(PLANS));
const env = await createBenchEnv({
  PLANS_FILE: plansFile,
  RATE_LIMIT_PER_MINUTE: '10000000',
  RATE_LIMIT_BURST_PER_SECOND: '10000000',
});
const api = await start(env.config);
const quota = createQuotaService({ plans: parsePlanCatalogue(PLANS) });
const keys = new Map([TENANT, CONTROL].map((t) => [t, `rm_live_bench${newId('key').slice(4)}`]));
const body = JSON.stringify({
  scenes: [{ text: 'Twelve words of narration for a short bench scene, no more.' }],
});

function summary(samples: number[]): { p50: number; p99: number } {
  const s = [...samples].sort((a, b) => a - b);
  const at = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? Number.NaN;
  return { p50: at(0.5), p99: at(0.99) };
}

async function timeReserves(tenantId: string, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await env.db.transaction((trx) =>
      quota.reserve(trx, {
        tenantId,
        jobId: newId('job'),
        kind: 'render',
        estimate: { render_seconds: 5, tts_seconds: 5, images: 1 },
      }),
    );
    out.push(performance.now() - t0);
  }
  return out;
}

async function timeSubmits(tenantId: string, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const res = await fetch(`${api.url}/v1/renders`, {
      method: 'POST',
      headers: { authorization: `Bearer ${keys.get(tenantId)}`, 'content-type': 'application/json' },
      body,
    });
    await res.text();
    if (res.status !== 202) throw new Error(`submit answered ${res.status}`);
    out.push(performance.now() - t0);
  }
  return out;
}

/** Alternating blocks per tenant and kind, so slow moments of the machine hit every series alike. */
async function measure(tenants: string[]): Promise<Map<string, Figures>> {
  // Warm-up (pool, JIT, caches): the first calls of a fresh process are slower than anything
  // the ledger could cause.
  for (const t of tenants) {
    await timeReserves(t, 500);
    await timeSubmits(t, 150);
  }
  const raw = new Map(tenants.map((t) => [t, { reserve: [] as number[], submit: [] as number[] }]));
  for (let r = 0; r < ROUNDS; r++) {
    for (const t of tenants) raw.get(t)?.reserve.push(...(await timeReserves(t, RESERVES / ROUNDS)));
    for (const t of tenants) raw.get(t)?.submit.push(...(await timeSubmits(t, SUBMITS / ROUNDS)));
  }
  return new Map([...raw].map(([t, s]) => [t, { reserve: summary(s.reserve), submit: summary(s.submit) }]));
}

async function print(label: string, tenantId: string, f: Figures): Promise<void> {
  const [{ n }] = (await env.db('usage_events').where({ tenant_id: tenantId }).count({ n: '*' })) as [
    { n: number },
  ];
  const ms = (x: number) => `${x.toFixed(2)} ms`.padStart(9);
  console.log(
    `${label.padEnd(36)} ledger ${String(n).padStart(9)}  reserve p50 ${ms(f.reserve.p50)} p99 ${ms(f.reserve.p99)}  |  POST /v1/renders p50 ${ms(f.submit.p50)} p99 ${ms(f.submit.p99)}`,
  );
}

function ratios(label: string, a: Figures, b: Figures): void {
  const r = (x: number, y: number) => (x / y).toFixed(2);
  console.log(
    `${label.padEnd(36)} reserve p50 ${r(a.reserve.p50, b.reserve.p50)}  p99 ${r(a.reserve.p99, b.reserve.p99)}  |  POST /v1/renders p50 ${r(a.submit.p50, b.submit.p50)}  p99 ${r(a.submit.p99, b.submit.p99)}   (target ≤ 1.2)`,
  );
}

async function loadLedger(): Promise<void> {
  const t0 = performance.now();
  // The bulk statements outlast the application pool's 30 s statement timeout.
  const bulk = createDb(env.config.DATABASE_URL, { poolMax: 1, statementTimeoutMs: 0 });
  try {
    // One statement, all this month, all for the measured tenant: the worst case for a check
    // that scanned the ledger. 1% left unreported, as if the reporter lagged.
    await bulk.raw(
      `INSERT INTO usage_events (id, tenant_id, job_id, step, metric, quantity, occurred_at, reported_at)
       SELECT 'evt_bench_' || g, ?, 'job_bench_' || (g / 3), 'step',
              (ARRAY['render_seconds','tts_seconds','images'])[g % 3 + 1], 1,
              date_trunc('month', now()) + (g % 86400) * interval '1 second',
              CASE WHEN g % 100 = 0 THEN NULL ELSE now() END
       FROM generate_series(1, ?) AS g`,
      [TENANT, LEDGER_ROWS],
    );
    // Counters as recordUsage would have kept them.
    await bulk.raw(
      `UPDATE usage_counters SET used = used + ?
       WHERE tenant_id = ? AND period_start = ?::date AND metric IN ('render_seconds','tts_seconds','images')`,
      [LEDGER_ROWS / 3, TENANT, periodKey(new Date())],
    );
    await bulk.raw('VACUUM ANALYZE usage_events');
    // Write the load's dirty pages now rather than during the second measurement.
    await bulk.raw('CHECKPOINT').catch(() => undefined);
  } finally {
    await bulk.destroy();
  }
  const s = ((performance.now() - t0) / 1000).toFixed(1);
  console.log(`loaded ${LEDGER_ROWS.toLocaleString('en')} ledger rows for ${TENANT} in ${s} s`);
}

try {
  for (const [id, key] of keys) {
    await env.db('tenants').insert({ id, name: id, plan: 'free' });
    await env.db('api_keys').insert({
      id: newId('key'),
      tenant_id: id,
      name: 'bench',
      role: 'member',
      prefix: key.slice(0, 12),
      key_hash: hashSecret(key),
      last4: key.slice(-4),
    });
  }
  console.log(`bench:quota — ${RESERVES} reserves and ${SUBMITS} submissions per series, sequential`);
  const empty = (await measure([TENANT])).get(TENANT) as Figures;
  await print('empty ledger', TENANT, empty);
  await loadLedger();
  const second = await measure([TENANT, CONTROL]);
  const full = second.get(TENANT) as Figures;
  const control = second.get(CONTROL) as Figures;
  await print(`${(LEDGER_ROWS / 1e6).toLocaleString('en')}M-row ledger`, TENANT, full);
  await print('control: empty ledger, same moments', CONTROL, control);
  ratios('ratio 10M / empty (before/after)', full, empty);
  ratios('ratio 10M / control (same moments)', full, control);
} finally {
  await api.stop();
  await env.close();
}
