import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Agent, fetch } from 'undici';
import { type Check, durationMs, K6_DIR, type Scenario, type Step } from './scenarios.ts';

/**
 * Runs one scenario of load/k6/scenarios.json the way k6 would: a ramping arrival rate of
 * iterations (started on schedule whatever the latency, dropped beyond maxVUs), each iteration
 * the scenario's steps with their checks, then k6's metrics and thresholds. HTTP goes through
 * undici (Node's fetch) with a keep-alive pool.
 */
export interface RunOptions {
  baseUrl: string;
  tokens: string[];
  /** Multiplies every stage duration (1 = as defined; tests use a fraction). Rates are unchanged. */
  durationScale?: number;
  /** How long running iterations may finish after the last stage (k6's gracefulStop, 30 s). */
  gracefulStopMs?: number;
}

export interface Trend {
  values: number[];
}
export interface RateMetric {
  pass: number;
  fail: number;
}
export interface RunResult {
  name: string;
  elapsedMs: number;
  trends: { http_req_duration: Trend; iteration_duration: Trend };
  rates: Record<string, RateMetric>;
  counters: {
    http_reqs: number;
    iterations: number;
    dropped_iterations: number;
    interrupted_iterations: number;
  };
  checks: Map<string, RateMetric>;
  thresholds: Array<{ metric: string; expr: string; ok: boolean; actual: number }>;
}

type Vars = Record<string, string | number | undefined>;

function fill<T>(value: T, vars: Vars): T {
  if (typeof value === 'string') {
    return value.replace(/\{(\w+)\}/g, (m, k: string) => (k in vars ? String(vars[k]) : m)) as T;
  }
  if (Array.isArray(value)) return value.map((v) => fill(v, vars)) as T;
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, fill(v, vars)])) as T;
  }
  return value;
}

interface Answer {
  status: number;
  headers: Headers;
  bytes: number;
  json: Record<string, unknown> | undefined;
}

function passes(c: Check, res: Answer): boolean {
  if (c.ifStatus !== undefined && res.status !== c.ifStatus) return true;
  if (c.status && !c.status.includes(res.status)) return false;
  if (c.header) {
    const value = res.headers.get(c.header);
    if (c.equals === undefined ? !value : !String(value ?? '').startsWith(String(c.equals))) return false;
  } else if (c.json) {
    if (res.json?.[c.json] !== c.equals) return false;
  }
  if (c.minBytes !== undefined && res.bytes < c.minBytes) return false;
  return true;
}

/** Iterations per millisecond at `t` ms: linear ramps from startRate through each stage's target. */
function rateAt(s: Scenario, t: number, scale: number): number {
  const unit = durationMs(s.executor.timeUnit);
  let from = s.executor.startRate;
  let at = 0;
  for (const stage of s.executor.stages) {
    const d = durationMs(stage.duration) * scale;
    if (t < at + d) return (from + ((stage.target - from) * (t - at)) / d) / unit;
    at += d;
    from = stage.target;
  }
  return 0;
}

function totalMs(s: Scenario, scale: number): number {
  return s.executor.stages.reduce((a, st) => a + durationMs(st.duration) * scale, 0);
}

export async function runScenario(name: string, s: Scenario, opts: RunOptions): Promise<RunResult> {
  const scale = opts.durationScale ?? 1;
  const dispatcher = new Agent({ connections: s.executor.maxVUs, keepAliveTimeout: 10_000 });
  const bodies = new Map<string, unknown>();
  for (const step of s.steps) {
    if (step.bodyFile)
      bodies.set(step.bodyFile, JSON.parse(readFileSync(path.join(K6_DIR, step.bodyFile), 'utf8')));
  }
  const result: RunResult = {
    name,
    elapsedMs: 0,
    trends: { http_req_duration: { values: [] }, iteration_duration: { values: [] } },
    rates: { http_req_failed: { pass: 0, fail: 0 }, checks: { pass: 0, fail: 0 } },
    counters: { http_reqs: 0, iterations: 0, dropped_iterations: 0, interrupted_iterations: 0 },
    checks: new Map(),
    thresholds: [],
  };
  for (const metric of Object.keys(s.metrics)) result.rates[metric] = { pass: 0, fail: 0 };
  const stop = new AbortController();
  const run = String(Date.now());

  const request = async (step: Step, vars: Vars, token: string | undefined): Promise<Answer> => {
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      ...fill(step.headers ?? {}, vars),
    };
    if (token) headers.authorization = `Bearer ${token}`;
    const body = step.bodyFile ? bodies.get(step.bodyFile) : step.body;
    const t = performance.now();
    const res = await fetch(opts.baseUrl + fill(step.path, vars), {
      method: step.method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(fill(body, vars)),
      redirect: step.followRedirects ? 'follow' : 'manual',
      signal: AbortSignal.any([stop.signal, AbortSignal.timeout(60_000)]),
      dispatcher,
    });
    const buf = Buffer.from(await res.arrayBuffer());
    result.trends.http_req_duration.values.push(performance.now() - t);
    result.counters.http_reqs++;
    const failed = !step.expectedStatuses.includes(res.status);
    result.rates.http_req_failed![failed ? 'pass' : 'fail']++;
    let json: Record<string, unknown> | undefined;
    if ((res.headers.get('content-type') ?? '').includes('json')) {
      try {
        json = JSON.parse(buf.toString('utf8'));
      } catch {
        json = undefined;
      }
    }
    return { status: res.status, headers: res.headers, bytes: buf.length, json };
  };

  const iteration = async (iter: number, vu: number) => {
    const vars: Vars = { vu, iter, run };
    const token =
      s.auth === 'first'
        ? opts.tokens[0]
        : s.auth === 'round-robin'
          ? opts.tokens[iter % Math.max(1, opts.tokens.length)]
          : undefined;
    const t = performance.now();
    for (const step of s.steps) {
      let res = await request(step, vars, token);
      for (let i = 1; step.repeat && i < step.repeat.max; i++) {
        if (step.repeat.in.includes(String(res.json?.[step.repeat.untilJson]))) break;
        await new Promise((r) => setTimeout(r, step.repeat!.pauseSeconds * 1000));
        res = await request(step, vars, token);
      }
      for (const c of step.checks) {
        const ok = passes(c, res);
        const m = result.checks.get(c.name) ?? { pass: 0, fail: 0 };
        m[ok ? 'pass' : 'fail']++;
        result.checks.set(c.name, m);
        result.rates.checks![ok ? 'pass' : 'fail']++;
      }
      for (const [metric, m] of Object.entries(s.metrics)) {
        if (m.step === step.name) result.rates[metric]![res.status === m.status ? 'pass' : 'fail']++;
      }
      if (step.save) {
        for (const [k, field] of Object.entries(step.save)) vars[k] = res.json?.[field] as string | undefined;
        if (Object.keys(step.save).some((k) => vars[k] === undefined)) break;
      }
    }
    result.trends.iteration_duration.values.push(performance.now() - t);
    result.counters.iterations++;
  };

  // The arrival-rate executor: start what the schedule says is due, on VUs that are free.
  const busy = new Set<number>();
  const running = new Set<Promise<void>>();
  const end = totalMs(s, scale);
  const t0 = performance.now();
  let due = 0;
  let started = 0;
  let last = 0;
  for (;;) {
    const now = performance.now() - t0;
    if (now >= end) break;
    due += ((rateAt(s, last, scale) + rateAt(s, now, scale)) / 2) * (now - last);
    last = now;
    while (started < Math.floor(due)) {
      const iter = started++;
      if (busy.size >= s.executor.maxVUs) {
        result.counters.dropped_iterations++;
        continue;
      }
      let vu = 1;
      while (busy.has(vu)) vu++;
      busy.add(vu);
      const p: Promise<void> = iteration(iter, vu)
        .catch(() => {
          if (stop.signal.aborted) result.counters.interrupted_iterations++;
          else result.rates.checks!.fail++;
        })
        .finally(() => {
          busy.delete(vu);
          running.delete(p);
        });
      running.add(p);
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  const grace = setTimeout(() => stop.abort(), opts.gracefulStopMs ?? 30_000);
  await Promise.all([...running]);
  clearTimeout(grace);
  result.elapsedMs = performance.now() - t0;
  await dispatcher.close();
  result.thresholds = evaluateThresholds(s, result);
  return result;
}

export function percentile(xs: number[], p: number): number {
  if (!xs.length) return 0;
  const s = [...xs].sort((a, b) => a - b);
  const rank = (p / 100) * (s.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return (s[lo] as number) + ((s[hi] as number) - (s[lo] as number)) * (rank - lo);
}

function evaluateThresholds(s: Scenario, r: RunResult): RunResult['thresholds'] {
  const out: RunResult['thresholds'] = [];
  for (const [metric, exprs] of Object.entries(s.thresholds)) {
    for (const expr of exprs) {
      const m = /^(p\((\d+(?:\.\d+)?)\)|avg|min|max|med|rate)\s*([<>]=?)\s*([\d.]+)$/.exec(expr);
      if (!m) throw new Error(`threshold ${metric}: ${expr} is not supported`);
      const [, agg = '', p, op, limit] = m;
      let actual: number;
      if (agg === 'rate') {
        const rate = r.rates[metric];
        if (!rate) throw new Error(`threshold on unknown rate metric ${metric}`);
        actual = rate.pass + rate.fail ? rate.pass / (rate.pass + rate.fail) : 0;
      } else {
        const values = r.trends[metric as keyof RunResult['trends']]?.values;
        if (!values) throw new Error(`threshold on unknown trend metric ${metric}`);
        actual = p
          ? percentile(values, Number(p))
          : agg === 'avg'
            ? values.reduce((a, b) => a + b, 0) / Math.max(1, values.length)
            : agg === 'min'
              ? Math.min(...values)
              : agg === 'max'
                ? Math.max(...values)
                : percentile(values, 50);
      }
      const n = Number(limit);
      const ok = op === '<' ? actual < n : op === '<=' ? actual <= n : op === '>' ? actual > n : actual >= n;
      out.push({ metric, expr, ok, actual });
    }
  }
  return out;
}
