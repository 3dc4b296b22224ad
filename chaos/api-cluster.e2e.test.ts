import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../shared/ids/ids.ts';
import { insertApiKey } from '../shared/testing/tenant-fixture.ts';
import { createTestEnv, type TestEnv } from '../shared/testing/test-env.ts';
import { freePort } from './spawn-api.ts';
import { exited, spawnService } from './spawn-process.ts';

/**
 * API_PROCESSES=2 as `npm run start:api` runs it (the runner with --migrate and the API alone):
 * a primary and two API processes on one port; /metrics sums both; a SIGKILLed process is
 * replaced; SIGTERM to the primary ends every process.
 */
let env: TestEnv;
const key = `rm_live_clus${newId('key').slice(4)}`;
beforeAll(async () => {
  env = await createTestEnv({ RATE_LIMIT_BURST_PER_SECOND: '1000', RATE_LIMIT_PER_MINUTE: '100000' });
  const tenant = newId('ten');
  await env.db('tenants').insert({ id: tenant, name: 'cluster', plan: 'enterprise' });
  await insertApiKey(env.db, { tenantId: tenant, key, name: 'cluster' });
});
afterAll(async () => {
  await env?.cleanup();
});

function workersOf(pid: number): number[] {
  try {
    return execFileSync('pgrep', ['-P', String(pid), '-f', 'shared/process/run.ts'], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map(Number);
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
}
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('npm run start:api with API_PROCESSES=2', () => {
  it('when two API processes share the port, then /metrics sums both, a killed one is replaced, and SIGTERM ends all', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const primary = spawnService(['--migrate', 'api/main.ts'], {
      ...env.vars,
      PORT: String(port),
      API_PROCESSES: '2',
      SHUTDOWN_GRACE_SECONDS: '10',
    });
    try {
      const pid = primary.pid!;
      await expect.poll(() => workersOf(pid).length, { timeout: 45_000, interval: 200 }).toBe(2);
      await expect
        .poll(
          () =>
            fetch(`${url}/readyz`).then(
              (r) => r.status,
              () => 0,
            ),
          { timeout: 45_000, interval: 200 },
        )
        .toBe(200);
      const submit = () =>
        fetch(`${url}/v1/renders`, {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body: JSON.stringify({ scenes: [{ text: 'Cluster scene.' }] }),
        }).then((r) => r.status);
      const N = 20;
      expect(await Promise.all(Array.from({ length: N }, submit))).toEqual(Array(N).fill(202));

      // Whichever process takes the scrape, the total is the host's.
      const submitted = async () => {
        const text = await (await fetch(`${url}/metrics`)).text();
        const lines = text.split('\n').filter((l) => l.startsWith('rendermill_jobs_submitted_total{'));
        return lines.reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0);
      };
      for (let i = 0; i < 4; i++) expect(await submitted()).toBe(N);

      const [victim] = workersOf(pid);
      process.kill(victim!, 'SIGKILL');
      await expect
        .poll(() => workersOf(pid).filter((w) => w !== victim).length, { timeout: 30_000, interval: 200 })
        .toBe(2);
      await expect
        .poll(
          async () => (await Promise.all([submit(), submit(), submit(), submit()])).every((s) => s === 202),
          {
            timeout: 20_000,
            interval: 200,
          },
        )
        .toBe(true);

      const workers = workersOf(pid);
      primary.kill('SIGTERM');
      expect(await exited(primary, 15_000)).toBe(0);
      await expect.poll(() => workers.filter(alive), { timeout: 5_000 }).toEqual([]);
    } finally {
      primary.kill('SIGKILL');
      await exited(primary, 5_000);
    }
  }, 90_000);
});
