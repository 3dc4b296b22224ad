import { percentile, type RunResult } from './runner.ts';

/** The end-of-test summary in k6's layout: checks, then metrics with ✓/✗ on those with thresholds. */
export function formatSummary(r: RunResult): string {
  const out: string[] = [];
  const secs = r.elapsedMs / 1000;
  out.push(`\n  scenario: ${r.name} (ramping-arrival-rate), ran ${secs.toFixed(1)}s\n`);
  for (const [name, m] of r.checks) {
    const total = m.pass + m.fail;
    out.push(`     ${m.fail ? '✗' : '✓'} ${name}`);
    if (m.fail) out.push(`      ↳  ${Math.floor((100 * m.pass) / total)}% — ✓ ${m.pass} / ✗ ${m.fail}`);
  }
  out.push('');
  const mark = (metric: string) => {
    const mine = r.thresholds.filter((t) => t.metric === metric);
    if (!mine.length) return ' ';
    return mine.every((t) => t.ok) ? '✓' : '✗';
  };
  const ms = (v: number) => (v >= 1000 ? `${(v / 1000).toFixed(2)}s` : `${v.toFixed(2)}ms`);
  const trend = (v: number[]) =>
    `avg=${ms(v.reduce((a, b) => a + b, 0) / Math.max(1, v.length))} min=${ms(v.length ? Math.min(...v) : 0)} med=${ms(percentile(v, 50))} max=${ms(v.length ? Math.max(...v) : 0)} p(90)=${ms(percentile(v, 90))} p(95)=${ms(percentile(v, 95))}`;
  const rate = (m: { pass: number; fail: number }) => {
    const total = m.pass + m.fail;
    return `${total ? ((100 * m.pass) / total).toFixed(2) : '0.00'}% ✓ ${m.pass} ✗ ${m.fail}`;
  };
  const rows: Array<[string, string]> = [
    ['checks', rate(r.rates.checks ?? { pass: 0, fail: 0 })],
    ['dropped_iterations', `${r.counters.dropped_iterations}`],
    ['http_req_duration', trend(r.trends.http_req_duration.values)],
    ['http_req_failed', rate(r.rates.http_req_failed ?? { pass: 0, fail: 0 })],
    ['http_reqs', `${r.counters.http_reqs} ${(r.counters.http_reqs / secs).toFixed(2)}/s`],
    ['iteration_duration', trend(r.trends.iteration_duration.values)],
    ['iterations', `${r.counters.iterations} ${(r.counters.iterations / secs).toFixed(2)}/s`],
  ];
  for (const [metric, m] of Object.entries(r.rates)) {
    if (metric !== 'checks' && metric !== 'http_req_failed') rows.push([metric, rate(m)]);
  }
  for (const [metric, value] of rows.sort((a, b) => a[0].localeCompare(b[0]))) {
    out.push(`   ${mark(metric)} ${`${metric}`.padEnd(30, '.')}: ${value}`);
    for (const t of r.thresholds.filter((x) => x.metric === metric)) {
      out.push(
        `       ${t.ok ? '✓' : '✗'} '${t.expr}' ${metric.includes('duration') ? ms(t.actual) : t.actual.toFixed(4)}`,
      );
    }
  }
  if (r.counters.interrupted_iterations)
    out.push(`\n   interrupted iterations: ${r.counters.interrupted_iterations}`);
  const failed = r.thresholds.filter((t) => !t.ok);
  out.push(
    failed.length
      ? `\n  ✗ thresholds crossed: ${failed.map((t) => `${t.metric} '${t.expr}'`).join(', ')}`
      : '\n  ✓ all thresholds met',
  );
  return out.join('\n');
}
