// The one interpreter of scenarios.json for k6. The Node runner (load/runner/) reads the same file
// and applies the same executor, steps, checks and thresholds, so the two cannot drift.
//   k6 run -e BASE_URL=https://api.example.com -e RENDERMILL_TOKENS=rm_live_a,rm_live_b load/k6/<scenario>.js
import { check, sleep } from 'k6';
import exec from 'k6/execution';
import http from 'k6/http';
import { Rate } from 'k6/metrics';

const ALL = JSON.parse(open('./scenarios.json'));
const BODIES = {};
for (const s of Object.values(ALL)) {
  for (const step of s.steps) if (step.bodyFile) BODIES[step.bodyFile] = JSON.parse(open(step.bodyFile));
}
const BASE_URL = (__ENV.BASE_URL || 'http://localhost:3000').replace(/\/+$/, '');
const TOKENS = (__ENV.RENDERMILL_TOKENS || '').split(',').filter(Boolean);
const RUN = __ENV.RUN_ID || String(Date.now());
const customRates = {};

/** k6 options (a ramping-arrival-rate scenario and the thresholds) for scenario `name`. */
export function scenario(name) {
  const def = ALL[name];
  if (!def) throw new Error(`no scenario ${name} in scenarios.json`);
  for (const metric of Object.keys(def.metrics)) customRates[metric] = new Rate(metric);
  return {
    def,
    options: {
      scenarios: { [name]: { executor: 'ramping-arrival-rate', ...def.executor } },
      thresholds: def.thresholds,
    },
  };
}

function fill(value, vars) {
  if (typeof value === 'string')
    return value.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m));
  if (Array.isArray(value)) return value.map((v) => fill(v, vars));
  if (value && typeof value === 'object') {
    const out = {};
    for (const [k, v] of Object.entries(value)) out[k] = fill(v, vars);
    return out;
  }
  return value;
}

function jsonField(res, field) {
  try {
    return res.json(field);
  } catch (_e) {
    return undefined;
  }
}

function passes(c, res) {
  if (c.ifStatus !== undefined && res.status !== c.ifStatus) return true;
  if (c.status && !c.status.includes(res.status)) return false;
  if (c.header) {
    const value = res.headers[Object.keys(res.headers).find((h) => h.toLowerCase() === c.header) || ''];
    if (c.equals === undefined ? !value : !String(value).startsWith(c.equals)) return false;
  } else if (c.json) {
    if (jsonField(res, c.json) !== c.equals) return false;
  }
  if (c.minBytes !== undefined && (res.body ? res.body.length : 0) < c.minBytes) return false;
  return true;
}

/** One iteration: the scenario's steps in order, each with its checks. */
export function run(s) {
  const { def } = s;
  const iter = exec.scenario.iterationInTest;
  const vars = { vu: exec.vu.idInTest, iter, run: RUN };
  let token;
  if (def.auth === 'first') token = TOKENS[0];
  else if (def.auth === 'round-robin') token = TOKENS[iter % Math.max(1, TOKENS.length)];
  for (const step of def.steps) {
    const headers = { 'content-type': 'application/json', ...fill(step.headers || {}, vars) };
    if (token) headers.authorization = `Bearer ${token}`;
    const body = step.bodyFile ? BODIES[step.bodyFile] : step.body;
    const params = {
      headers,
      redirects: step.followRedirects ? 5 : 0,
      responseCallback: http.expectedStatuses(...step.expectedStatuses),
      tags: { name: step.name },
    };
    const url = BASE_URL + fill(step.path, vars);
    const payload = body === undefined ? null : JSON.stringify(fill(body, vars));
    let res = http.request(step.method, url, payload, params);
    for (let i = 1; step.repeat && i < step.repeat.max; i++) {
      if (step.repeat.in.includes(jsonField(res, step.repeat.untilJson))) break;
      sleep(step.repeat.pauseSeconds);
      res = http.request(step.method, url, payload, params);
    }
    const checks = {};
    for (const c of step.checks) checks[c.name] = (r) => passes(c, r);
    check(res, checks);
    for (const [metric, m] of Object.entries(def.metrics)) {
      if (m.step === step.name) customRates[metric].add(res.status === m.status);
    }
    if (step.save) {
      for (const [k, field] of Object.entries(step.save)) vars[k] = jsonField(res, field);
      if (Object.values(step.save).some((f) => jsonField(res, f) === undefined)) return;
    }
  }
}
