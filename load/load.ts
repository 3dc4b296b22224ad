import { start as startApi } from '../api/main.ts';
import { start as startWorker } from '../workers/main.ts';
import { createBenchEnv } from './bench-env.ts';
import { runScenario } from './runner/runner.ts';
import { loadScenarios } from './runner/scenarios.ts';
import { formatSummary } from './runner/summary.ts';
import { createLoadTenants } from './runner/tenants.ts';
import { freePort } from './soak/datastores.ts';

/**
 * `npm run load -- <scenario> [--url URL --tokens KEY,KEY] [--scale F]`: one scenario of
 * load/k6/scenarios.json under the Node runner, with a k6-style summary; exits 1 when a
 * threshold is crossed. Without --url it starts its own API and worker on a fresh database
 * (shared Postgres and Redis, own prefix) with 8 pro tenants, and removes them afterwards.
 */
const args = process.argv.slice(2);
const flag = (name: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const scenarios = loadScenarios();
const name = args.find((a) => !a.startsWith('--') && !args[args.indexOf(a) - 1]?.startsWith('--'));
if (!name || !scenarios[name]) {
  console.error(
    `usage: npm run load -- <${Object.keys(scenarios).join('|')}> [--url URL --tokens K1,K2] [--scale F]`,
  );
  process.exit(2);
}
const scenario = scenarios[name];
const scale = Number(flag('scale') ?? 1);

let code = 1;
if (flag('url')) {
  const result = await runScenario(name, scenario, {
    baseUrl: String(flag('url')).replace(/\/+$/, ''),
    tokens: (flag('tokens') ?? '').split(',').filter(Boolean),
    durationScale: scale,
  });
  console.log(formatSummary(result));
  code = result.thresholds.every((t) => t.ok) ? 0 : 1;
} else {
  const port = await freePort();
  // The rate-limit scenario measures the default per-key limits; the others need keys that allow their rate.
  const limits: Record<string, string> =
    name === 'rate-limit' ? {} : { RATE_LIMIT_PER_MINUTE: '100000', RATE_LIMIT_BURST_PER_SECOND: '1000' };
  const env = await createBenchEnv({ PORT: String(port), PUBLIC_URL: `http://127.0.0.1:${port}`, ...limits });
  const api = await startApi(env.config);
  const worker = await startWorker(env.config);
  try {
    const tenants = await createLoadTenants(env.db, Array(8).fill('pro'));
    console.log(`  own API ${api.url} and worker on a fresh database; ${tenants.length} pro tenants`);
    const result = await runScenario(name, scenario, {
      baseUrl: api.url,
      tokens: tenants.map((t) => t.key),
      durationScale: scale,
    });
    console.log(formatSummary(result));
    code = result.thresholds.every((t) => t.ok) ? 0 : 1;
  } finally {
    await worker.stop();
    await api.stop();
    await env.close();
  }
}
process.exit(code);
