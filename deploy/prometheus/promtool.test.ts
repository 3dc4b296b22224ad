import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

/**
 * The rules and the compose Prometheus config through promtool (Debian's `prometheus` package;
 * `.ci/run` installs it). Nothing is skipped when promtool is missing: the test fails.
 */
const run = promisify(execFile);
const DIR = import.meta.dirname;
const ROOT = path.resolve(DIR, '../..');
const RULES = path.join(DIR, 'rules/rendermill.rules.yml');
const TESTS = path.join(DIR, 'tests/rendermill.test.yml');

interface RuleGroup {
  rules: Array<{ alert?: string; record?: string; annotations?: Record<string, string> }>;
}
interface UnitTests {
  tests: Array<{
    alert_rule_test?: Array<{ alertname: string; exp_alerts: unknown[] }>;
    promql_expr_test?: Array<{ expr: string }>;
  }>;
}

const groups = (parse(readFileSync(RULES, 'utf8')) as { groups: RuleGroup[] }).groups;
const rules = groups.flatMap((g) => g.rules);
const alerts = rules.filter((r) => r.alert);
const unit = parse(readFileSync(TESTS, 'utf8')) as UnitTests;

async function promtool(...args: string[]): Promise<string> {
  try {
    const { stdout, stderr } = await run('promtool', args, { cwd: ROOT, timeout: 240_000 });
    return stdout + stderr;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`promtool ${args.join(' ')} failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
}

describe('Prometheus rules', () => {
  it('when promtool checks the rules, then every rule parses', async () => {
    const out = await promtool('check', 'rules', RULES);
    expect(out).toContain(`SUCCESS: ${rules.length} rules found`);
  });

  // Seconds on a quiet machine; minutes when the 2 cores are shared by several test suites.
  it('when promtool runs the unit tests, then every one passes', { timeout: 240_000 }, async () => {
    expect(await promtool('test', 'rules', TESTS)).toContain('SUCCESS');
  });

  it('when promtool checks the compose Prometheus config, then it and its rule files are valid', async () => {
    expect(await promtool('check', 'config', path.join(DIR, 'prometheus.yml'))).toContain('SUCCESS');
  });

  it('when an alert is declared, then a unit test sees it fire and one sees it quiet', () => {
    const cases = unit.tests.flatMap((t) => t.alert_rule_test ?? []);
    for (const a of alerts) {
      const mine = cases.filter((c) => c.alertname === a.alert);
      expect(
        mine.some((c) => c.exp_alerts.length > 0),
        `${a.alert} fires in a test`,
      ).toBe(true);
      expect(
        mine.some((c) => c.exp_alerts.length === 0),
        `${a.alert} stays quiet in a test`,
      ).toBe(true);
    }
  });

  it('when an alert links its runbook, then the README has that section', () => {
    const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const anchors = new Set(
      [...readme.matchAll(/^#{2,5} (.+)$/gm)].map((m) =>
        (m[1] ?? '').toLowerCase().replace(/[^a-z0-9 -]/g, ''),
      ),
    );
    expect(alerts.length).toBe(13);
    for (const a of alerts) {
      expect(a.annotations?.runbook).toBe(`README.md#${a.alert?.toLowerCase()}`);
      expect(anchors.has(a.alert?.toLowerCase() ?? ''), `README section for ${a.alert}`).toBe(true);
    }
  });

  it('when a recording rule exists, then a unit test evaluates it or an alert uses it', () => {
    const tested = new Set(unit.tests.flatMap((t) => (t.promql_expr_test ?? []).map((e) => e.expr)));
    const alertExprs = JSON.stringify(groups);
    for (const r of rules.filter((x) => x.record)) {
      const name = r.record ?? '';
      const used = [...tested].some((e) => e.startsWith(name)) || alertExprs.includes(`"expr":"${name}`);
      expect(used || alertExprs.split(name).length > 2, `${name} is exercised`).toBe(true);
    }
  });
});
