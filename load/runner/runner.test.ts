import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi } from '../../api/testing/api-harness.ts';
import { runScenario } from './runner.ts';
import { K6_DIR, loadScenarios } from './scenarios.ts';
import { formatSummary } from './summary.ts';
import { createLoadTenants } from './tenants.ts';

const scenarios = loadScenarios();

describe('k6 scripts and the Node runner share one scenario file', () => {
  it('when the scenarios are read, then each has its k6 script and each script runs its own scenario', () => {
    const scripts = readdirSync(K6_DIR).filter((f) => f.endsWith('.js') && f !== 'lib.js');
    expect(scripts.map((f) => f.replace(/\.js$/, '')).sort()).toEqual(Object.keys(scenarios).sort());
    for (const f of scripts) {
      const text = readFileSync(path.join(K6_DIR, f), 'utf8');
      expect(text).toContain("from './lib.js'");
      expect(text).toContain(`scenario('${f.replace(/\.js$/, '')}')`);
      // Rates, durations, checks and thresholds live in scenarios.json only.
      expect(text).not.toMatch(/thresholds|stages|http\./);
    }
    const lib = readFileSync(path.join(K6_DIR, 'lib.js'), 'utf8');
    expect(lib).toContain("open('./scenarios.json')");
    expect(lib).toContain("executor: 'ramping-arrival-rate'");
    expect(lib).toContain("import http from 'k6/http'");
  });
});

describe('Node runner', () => {
  let api: TestApi;
  let key: string;
  beforeAll(async () => {
    api = await startTestApi();
    [{ key = '' } = { key: '' }] = await createLoadTenants(api.env.db, ['pro']);
  });
  afterAll(async () => {
    await api?.close();
  });

  it('when the rate-limit scenario runs briefly against a real API, then the limiter engages and every check holds', async () => {
    const scenario = scenarios['rate-limit']!;
    // 25 s as defined; a fifth of it here (1 s ramp to 30/s, 3 s at 30/s, 1 s down) at the same rates.
    const result = await runScenario('rate-limit', scenario, {
      baseUrl: api.api.url,
      tokens: [key],
      durationScale: 0.2,
    });
    const summary = formatSummary(result);
    expect(result.counters.iterations).toBeGreaterThan(40);
    expect(result.checks.get('me answers 200 or 429')).toMatchObject({ fail: 0 });
    expect(result.checks.get('a 429 carries Retry-After')).toMatchObject({ fail: 0 });
    expect(result.rates.rate_limited!.pass).toBeGreaterThan(0);
    expect(result.rates.rate_limited!.fail).toBeGreaterThan(0);
    expect(result.rates.http_req_failed).toMatchObject({ pass: 0 });
    // Every threshold of the scenario is evaluated and printed (latency ones are not asserted here).
    expect(result.thresholds.map((t) => `${t.metric} ${t.expr}`).sort()).toEqual(
      Object.entries(scenario.thresholds)
        .flatMap(([m, xs]) => xs.map((x) => `${m} ${x}`))
        .sort(),
    );
    expect(summary).toContain('✓ me answers 200 or 429');
    expect(summary).toMatch(/http_req_duration\.+: avg=/);
    expect(summary).toMatch(/rate_limited\.+: \d+\.\d+% ✓ \d+ ✗ \d+/);
  });
});
