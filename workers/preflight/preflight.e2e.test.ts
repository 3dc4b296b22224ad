import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdir, symlink } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnv, type TestEnv } from '../../shared/testing/test-env.ts';

/**
 * The worker's preflight as an operator meets it: `shared/process/run.ts` (what `npm start` and
 * `npm run start:worker` run) under a PATH that has node and the shell tools but no ffmpeg, ffprobe
 * or espeak-ng.
 */
const ROOT = path.resolve(import.meta.dirname, '../..');

let env: TestEnv;
let bin: string;
beforeAll(async () => {
  env = await createTestEnv();
  bin = path.join(env.dir, 'bin');
  await mkdir(bin);
  // runProcess needs `cat` (its watchdog); the rest is what a bare machine has.
  for (const tool of ['node', 'cat', 'sh', 'sleep']) {
    const target =
      tool === 'node' ? process.execPath : execFileSync('which', [tool], { encoding: 'utf8' }).trim();
    await symlink(target, path.join(bin, tool));
  }
});
afterAll(async () => {
  await env.cleanup();
});

interface Run {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  exit: Promise<number | null>;
}

function run(modules: string[], vars: Record<string, string>): Run {
  const child = spawn(process.execPath, ['--import', 'tsx', 'shared/process/run.ts', ...modules], {
    cwd: ROOT,
    env: { ...env.vars, HOME: env.dir, PATH: bin, ...vars },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout?.on('data', (c: Buffer) => {
    out += c.toString();
  });
  child.stderr?.on('data', (c: Buffer) => {
    err += c.toString();
  });
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, stdout: () => out, stderr: () => err, exit };
}

/** The exit code, or a failure (and a kill) when the process is still running after `ms`. */
async function exitWithin(r: Run, ms: number): Promise<number | null> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), ms);
  });
  const code = await Promise.race([r.exit, late]);
  clearTimeout(timer);
  if (code === 'late') {
    r.child.kill('SIGKILL');
    throw new Error(`still running after ${ms} ms; stderr: ${r.stderr()}`);
  }
  return code;
}

describe('worker preflight on a PATH without ffmpeg', () => {
  it('when a render worker starts, then it exits 1 at once naming each missing tool and its install command', async () => {
    const r = run(['workers/main.ts'], { WORKER_QUEUES: 'render' });
    expect(await exitWithin(r, 30_000)).toBe(1);
    const message = r.stderr();
    expect(message).toContain('the queues it consumes (render) need tools that are missing');
    expect(message).toContain('  - ffmpeg: not found on PATH');
    expect(message).toContain('  - ffprobe: not found on PATH');
    expect(message).toContain('  - espeak-ng: not found on PATH');
    expect(message).not.toContain('dejavu-fonts');
    expect(message).toContain('apt-get install -y ffmpeg espeak-ng\n');
    expect(message).toContain('brew install ffmpeg espeak-ng');
    // The message is all there is: no stack trace, and no job was ever taken (nothing connected).
    expect(message).not.toMatch(/\n\s+at /);
  });

  it('when `npm start` runs the API and the worker together, then it prints the message and exits instead of serving', async () => {
    const r = run(['api/main.ts', 'workers/main.ts'], { LOG_LEVEL: 'info' });
    expect(await exitWithin(r, 45_000)).toBe(1);
    // The API had started, and was stopped again.
    expect(r.stdout()).toMatch(/"msg":"api listening"/);
    expect(r.stdout()).toContain('"msg":"api stopped"');
    expect(r.stderr()).toContain('  - ffmpeg: not found on PATH');
  });

  it('when the worker consumes only queues without media, then the same PATH starts it and SIGTERM stops it cleanly', async () => {
    const r = run(['workers/main.ts'], { WORKER_QUEUES: 'callbacks,account,maintenance', LOG_LEVEL: 'info' });
    try {
      await expect
        .poll(() => r.stdout().includes('"msg":"worker started"') || r.child.exitCode !== null, {
          timeout: 30_000,
          interval: 100,
        })
        .toBe(true);
      expect(r.child.exitCode, r.stderr()).toBeNull();
      r.child.kill('SIGTERM');
      expect(await exitWithin(r, 30_000)).toBe(0);
      expect(r.stderr()).not.toContain('not found on PATH');
    } finally {
      if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGKILL');
    }
  });
});
