import { execFileSync } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import type { Knex } from 'knex';
import { periodKey } from '../../shared/metering/periods.ts';
import type { PlanCatalogue } from '../../shared/metering/plans.ts';
import type { FakeStripe } from '../../shared/testing/fake-stripe.ts';

/** One printed figure; `ok: false` breaks the soak (exit 1). `ok: null` is informational. */
export interface Figure {
  name: string;
  value: string;
  ok: boolean | null;
}

const BILLED = ['render_seconds', 'tts_seconds', 'images'];

/** The invariants checked once the system is quiet; every one prints its figure. */
export async function checkInvariants(args: {
  db: Knex;
  accepted: Set<string>;
  stripe: FakeStripe;
  plans: PlanCatalogue;
  storageDir: string;
  marker: string;
}): Promise<Figure[]> {
  const { db, accepted } = args;
  const figures: Figure[] = [];
  const ids = [...accepted];
  const rows = await db('jobs').whereIn('id', ids).select('id', 'status', 'error_code');
  const terminal = rows.filter((r) => ['succeeded', 'failed', 'canceled'].includes(r.status)).length;
  figures.push({
    name: 'accepted jobs terminal',
    value: `${terminal}/${ids.length} (${ids.length ? ((100 * terminal) / ids.length).toFixed(2) : '100.00'} %)`,
    ok: terminal === ids.length,
  });
  const byStatus = new Map<string, number>();
  for (const r of rows) {
    const k = r.status === 'failed' ? `failed:${r.error_code}` : r.status;
    byStatus.set(k, (byStatus.get(k) ?? 0) + 1);
  }
  figures.push({
    name: 'outcomes',
    value: [...byStatus].map(([k, n]) => `${k} ${n}`).join(', '),
    ok: null,
  });
  const lost = ids.length - rows.length + rows.filter((r) => r.error_code === 'lost').length;
  figures.push({ name: 'jobs lost', value: String(lost), ok: lost === 0 });

  const dup = await db.raw(
    'SELECT count(*)::int AS n FROM (SELECT 1 FROM usage_events GROUP BY job_id, step, metric HAVING count(*) > 1) d',
  );
  const dupN = Number(dup.rows[0].n);
  figures.push({ name: 'duplicate usage rows', value: String(dupN), ok: dupN === 0 });

  // Ledger against counters, per tenant and metric, this period (storage: its fixed period).
  const period = periodKey(new Date());
  const ledger = (await db('usage_events')
    .select('tenant_id', 'metric')
    .sum({ total: 'quantity' })
    .groupBy('tenant_id', 'metric')) as Array<{ tenant_id: string; metric: string; total: number }>;
  const counters = await db('usage_counters').select(
    'tenant_id',
    'metric',
    'period_start',
    'used',
    'reserved',
  );
  let mismatches = 0;
  let worst = 0;
  for (const l of ledger) {
    const c = counters.find((x) => x.tenant_id === l.tenant_id && x.metric === l.metric);
    const diff = Math.abs(Number(l.total) - Number(c?.used ?? 0));
    worst = Math.max(worst, diff);
    if (diff > 1e-6) mismatches++;
  }
  const reserved = counters.reduce((a, c) => a + Number(c.reserved), 0);
  figures.push({
    name: 'ledger vs counters',
    value: `${ledger.length} tenant-metrics, ${mismatches} differ (worst ${worst.toFixed(6)}), reserved left ${reserved.toFixed(3)} (period ${period})`,
    ok: mismatches === 0 && reserved < 1e-6,
  });

  // Stripe meter events against the ledger of tenants with a Stripe customer.
  const owed = (await db('usage_events as e')
    .join('tenants as t', 't.id', 'e.tenant_id')
    .whereNotNull('t.stripe_customer_id')
    .whereIn('e.metric', BILLED)
    .select('e.id', 'e.quantity')) as Array<{ id: string; quantity: number }>;
  const sent = new Map<string, number>();
  const counts = new Map<string, number>();
  for (const ev of args.stripe.meterEvents) {
    counts.set(ev.identifier, (counts.get(ev.identifier) ?? 0) + 1);
    sent.set(ev.identifier, Number(ev.payload.value));
  }
  const missing = owed.filter((o) => !sent.has(o.id)).length;
  const extra = [...sent.keys()].filter((id) => !owed.some((o) => o.id === id)).length;
  const duplicated = [...counts.values()].filter((n) => n > 1).length;
  const wrongValue = owed.filter(
    (o) => sent.has(o.id) && sent.get(o.id) !== Math.ceil(o.quantity - 1e-9),
  ).length;
  figures.push({
    name: 'Stripe meter events vs ledger',
    value: `${owed.length} owed, ${args.stripe.meterEvents.length} accepted: ${missing} missing, ${extra} extra, ${duplicated} duplicate, ${wrongValue} wrong value (${args.stripe.duplicateMeterEvents()} resends refused as already existing)`,
    ok: missing === 0 && extra === 0 && duplicated === 0 && wrongValue === 0,
  });

  // Quota overshoot on hard-limit plans: used may pass the limit only by what jobs used beyond their estimate.
  const hard = await db('tenants').select('id', 'plan');
  let worstOver = 0;
  let overBreaks = 0;
  const parts: string[] = [];
  for (const t of hard) {
    const plan = args.plans.get(t.plan);
    if (plan.overage) continue;
    for (const metric of BILLED) {
      const limit = plan.limits[metric as keyof typeof plan.limits];
      if (limit === null || limit === undefined) continue;
      const used = Number(counters.find((c) => c.tenant_id === t.id && c.metric === metric)?.used ?? 0);
      const beyond = await db.raw(
        `SELECT COALESCE(sum(GREATEST(0, u.q - COALESCE((j.estimate->>?)::float8, 0))), 0)::float8 AS b
           FROM jobs j JOIN (SELECT job_id, sum(quantity) q FROM usage_events WHERE metric = ? GROUP BY job_id) u
             ON u.job_id = j.id WHERE j.tenant_id = ?`,
        [metric, metric, t.id],
      );
      const allowance = Number(beyond.rows[0].b);
      const over = Math.max(0, used - limit);
      worstOver = Math.max(worstOver, over);
      if (over > allowance + 1e-6) overBreaks++;
      if (used > 0)
        parts.push(
          `${metric} ${used.toFixed(1)}/${limit} (over ${over.toFixed(1)}, allowed ${allowance.toFixed(1)})`,
        );
    }
  }
  figures.push({
    name: 'quota overshoot (hard limits)',
    value: `max ${worstOver.toFixed(2)}; ${parts.join('; ') || 'no hard-limited usage'}`,
    ok: overBreaks === 0,
  });

  const orphanProcs = orphanProcesses(args.marker);
  figures.push({
    name: 'orphan ffmpeg/espeak-ng processes',
    value: orphanProcs.length ? orphanProcs.join(' | ') : '0',
    ok: orphanProcs.length === 0,
  });

  const files = await listFiles(args.storageDir);
  const outputs = new Set(
    (
      (await db('jobs')
        .whereNotNull('output_key')
        .whereNull('output_deleted_at')
        .select('output_key')) as Array<{
        output_key: string;
      }>
    ).map((r) => r.output_key),
  );
  const tmp = files.filter((f) => f.endsWith('.tmp'));
  const unreferenced = files.filter((f) => /\/outputs\//.test(f) && !outputs.has(f));
  figures.push({
    name: 'orphan files in storage',
    value: `${tmp.length} partial (.tmp), ${unreferenced.length} outputs no job references (${files.length} files)`,
    ok: tmp.length === 0 && unreferenced.length === 0,
  });
  return figures;
}

/** ffmpeg / espeak-ng processes working in the soak's directory (other suites' are not ours). */
export function orphanProcesses(marker: string): string[] {
  try {
    return execFileSync('pgrep', ['-af', 'ffmpeg|espeak'], { encoding: 'utf8' })
      .split('\n')
      .filter((l) => l.includes(marker))
      .map((l) => l.slice(0, 120));
  } catch {
    return [];
  }
}

async function listFiles(root: string, rel = ''): Promise<string[]> {
  const entries = await readdir(path.join(root, rel), { withFileTypes: true }).catch(() => []);
  const out: string[] = [];
  for (const e of entries) {
    const key = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...(await listFiles(root, key)));
    else out.push(key);
  }
  return out;
}
