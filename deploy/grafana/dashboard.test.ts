import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parser } from '@prometheus-io/lezer-promql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { startTestApi, type TestApi } from '../../api/testing/api-harness.ts';
import { startTestWorker, type TestWorker } from '../../workers/testing/worker-harness.ts';

/**
 * Every query of the Grafana dashboard (and of the Prometheus rules) may only name metrics that
 * a running API's and worker's /metrics expose, or recording rules defined in
 * deploy/prometheus/rules. Names are parsed out of the PromQL with Prometheus's own grammar.
 */
const ROOT = path.resolve(import.meta.dirname, '../..');
const dashboard = JSON.parse(
  readFileSync(path.join(ROOT, 'deploy/grafana/dashboards/rendermill.json'), 'utf8'),
);
const rulesDoc = parse(
  readFileSync(path.join(ROOT, 'deploy/prometheus/rules/rendermill.rules.yml'), 'utf8'),
) as {
  groups: Array<{ rules: Array<{ record?: string; alert?: string; expr: string }> }>;
};
const rules = rulesDoc.groups.flatMap((g) => g.rules);
const recorded = new Set(rules.flatMap((r) => (r.record ? [r.record] : [])));
/** Series Prometheus itself makes for every target. */
const PROMETHEUS_SERIES = new Set(['up']);

interface Panel {
  title: string;
  type: string;
  targets?: Array<{ expr: string }>;
  panels?: Panel[];
}
const panels: Panel[] = (dashboard.panels as Panel[]).flatMap((p) => [p, ...(p.panels ?? [])]);

/** Metric names a PromQL expression selects; throws on a syntax error. */
function metricNames(expr: string): string[] {
  // Grafana's interval variables are not PromQL: substitute what Grafana would.
  const promql = expr
    .replaceAll('$__rate_interval', '5m')
    .replaceAll('$__interval', '1m')
    .replaceAll('$__range', '1h');
  const names: string[] = [];
  const cursor = parser.parse(promql).cursor();
  do {
    if (cursor.type.isError) throw new Error(`PromQL syntax error at ${cursor.from} in: ${expr}`);
    if (cursor.type.name === 'VectorSelector') {
      const node = cursor.node.getChild('Identifier');
      if (node) names.push(promql.slice(node.from, node.to));
    }
  } while (cursor.next());
  return names;
}

/** Names a /metrics page exposes: histograms as their _bucket, _sum and _count series. */
function exposedNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    const [, name = '', type] = m;
    if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(name + s);
    else if (type === 'summary') for (const s of ['', '_sum', '_count']) names.add(name + s);
    else names.add(name);
  }
  return names;
}

let api: TestApi;
let worker: TestWorker;
let exposed: Set<string>;

beforeAll(async () => {
  api = await startTestApi();
  worker = await startTestWorker();
  const [apiText, workerText] = await Promise.all([
    fetch(`${api.api.url}/metrics`).then((r) => r.text()),
    fetch(worker.worker.metricsUrl).then((r) => r.text()),
  ]);
  exposed = new Set([...exposedNames(apiText), ...exposedNames(workerText)]);
});

afterAll(async () => {
  await worker?.close();
  await api?.close();
});

const unknown = (names: string[]) =>
  names.filter((n) => !exposed.has(n) && !recorded.has(n) && !PROMETHEUS_SERIES.has(n));

describe('Grafana dashboard', () => {
  it('when the API and a worker run, then both expose the metrics the panels are built on', async () => {
    expect(exposed.has('rendermill_http_request_duration_seconds_bucket')).toBe(true);
    expect(exposed.has('rendermill_queue_depth')).toBe(true);
    expect(exposed.has('rendermill_tenants_over_quota_ratio')).toBe(true);
    const ready = await fetch(worker.worker.metricsUrl.replace('/metrics', '/readyz'));
    expect(ready.status).toBe(200);
  });

  it('when every panel query is parsed, then it names only exposed metrics or recording rules', () => {
    const queries = panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })));
    expect(queries.length).toBeGreaterThan(20);
    const problems = queries.flatMap((q) => unknown(metricNames(q.expr)).map((n) => `${q.panel}: ${n}`));
    expect(problems).toEqual([]);
  });

  it('when the rules are parsed, then they too name only exposed metrics or other recording rules', () => {
    const problems = rules.flatMap((r) =>
      unknown(metricNames(r.expr)).map((n) => `${r.record ?? r.alert}: ${n}`),
    );
    expect(problems).toEqual([]);
  });

  it('when a query names a metric nobody exposes, then the check reports it (the check can fail)', () => {
    expect(
      unknown(metricNames('sum(rate(rendermill_renders_total[5m])) / rendermill:http_requests:rate5m')),
    ).toEqual(['rendermill_renders_total']);
    expect(() => metricNames('sum(rate(rendermill_queue_depth[5m])')).toThrow(/syntax/);
  });

  it('when the dashboard is read, then it has the panels the issue asks for, on the provisioned datasource', () => {
    const titles = panels.map((p) => p.title.toLowerCase()).join('\n');
    for (const want of [
      'traffic',
      'errors',
      'latency',
      'queue depth per queue',
      'queue wait',
      'job outcomes',
      'step durations',
      'realtime factor',
      'usage recorded vs reported',
      'tenants over 80 %',
    ]) {
      expect(titles).toContain(want);
    }
    const datasource = parse(
      readFileSync(path.join(ROOT, 'deploy/grafana/provisioning/datasources/prometheus.yml'), 'utf8'),
    ) as { datasources: Array<{ uid: string }> };
    const uid = datasource.datasources[0]?.uid;
    for (const p of panels.filter((x) => x.type !== 'row')) {
      expect((p as unknown as { datasource: { uid: string } }).datasource.uid).toBe(uid);
    }
  });
});
