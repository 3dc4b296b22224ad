import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi } from '../../api/testing/api-harness.ts';
import { freePort } from '../../chaos/spawn-api.ts';
import { fixturePath } from '../../shared/testing/fixtures.ts';
import { start as startWorker, type WorkerProcess } from '../../workers/main.ts';
import { Rendermill } from '../src/index.ts';

/** The `rendermill` CLI as a child process against the running platform (API + worker). */
const ROOT = path.resolve(import.meta.dirname, '../..');
let t: TestApi;
let worker: WorkerProcess;
let apiKey: string;
beforeAll(async () => {
  const plansFile = path.join(os.tmpdir(), `plans-cli-${process.pid}.json`);
  await writeFile(
    plansFile,
    JSON.stringify({
      free: {
        limits: { render_seconds: 300, tts_seconds: 600, images: 100, storage_bytes: null },
        max_resolution: '1080p',
        overage: false,
      },
    }),
  );
  const port = await freePort();
  t = await startTestApi({
    PORT: String(port),
    PUBLIC_URL: `http://127.0.0.1:${port}`,
    PLANS_FILE: plansFile,
    RATE_LIMIT_BURST_PER_SECOND: '1000',
    RATE_LIMIT_PER_MINUTE: '100000',
    EVENTS_PROGRESS_INTERVAL_MS: '0',
  });
  worker = await startWorker(t.env.config);
  const s = await t.signIn('cli@example.com');
  const rm = new Rendermill({ accessToken: s.access_token, baseUrl: t.api.url });
  apiKey = (await rm.apiKeys.create({ name: 'cli', role: 'member' })).key;
});
afterAll(async () => {
  await worker?.stop();
  await t?.close();
});

function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'sdk/src/cli.ts', ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', RENDERMILL_API_KEY: apiKey, RENDERMILL_BASE_URL: t.api.url },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => {
      stdout += c;
    });
    child.stderr.on('data', (c) => {
      stderr += c;
    });
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('rendermill CLI', () => {
  it('when render --wait --output --json runs the sample, then it streams NDJSON progress and leaves a playable MP4', async () => {
    const out = path.join(t.env.dir, 'v.mp4');
    const r = await cli(['render', fixturePath('render-short'), '--wait', '--output', out, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const progress = lines.filter((l) => l.type !== 'job.succeeded').map((l) => l.progress as number);
    expect(progress.length).toBeGreaterThan(1);
    expect([...progress].sort((a, b) => a - b)).toEqual(progress);
    expect(lines.at(-1)).toMatchObject({ type: 'job.succeeded', output: out });
    const bytes = await readFile(out);
    expect(bytes.subarray(4, 8).toString('latin1')).toBe('ftyp');
  });

  it('when the body is invalid or past the quota, then distinct exit codes say so', async () => {
    const bad = path.join(t.env.dir, 'bad.json');
    await writeFile(bad, JSON.stringify({ scenes: [], resolution: '999p' }));
    const v = await cli(['render', bad]);
    expect(v.code).toBe(2);
    expect(v.stderr).toContain('/resolution');
    const big = path.join(t.env.dir, 'big.json');
    await writeFile(
      big,
      JSON.stringify({ scenes: Array.from({ length: 10 }, () => ({ title: 'long', duration: 40 })) }),
    );
    expect((await cli(['render', big])).code).toBe(3);
    expect((await cli(['estimate', big])).code).toBe(3);
  });

  it('when jobs, usage and help are asked for, then tables by default and JSON with --json', async () => {
    const list = await cli(['jobs', 'list', '--json']);
    expect(list.code, list.stderr).toBe(0);
    const page = JSON.parse(list.stdout) as { data: Array<{ id: string }> };
    expect(page.data.length).toBeGreaterThan(0);
    const get = await cli(['jobs', 'get', page.data[0]!.id]);
    expect(get.stdout).toContain(page.data[0]!.id);
    const usage = await cli(['usage']);
    expect(usage.stdout).toMatch(/render_seconds\s+used/);
    const help = await cli(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Exit codes');
  });
});
