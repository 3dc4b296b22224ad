import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '..');

/**
 * Starts `shared/process/run.ts <modules>` as a real child process — the same entry `npm start`
 * uses — so a chaos scenario can SIGKILL it. It leads its own process group.
 */
export function spawnService(modules: string[], env: Record<string, string>): ChildProcess {
  // A temp dir of its own: a SIGKILLed worker never removes its jobs' work dirs, so they go
  // with this one when the child has exited.
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'rendermill-child-'));
  const child = spawn(process.execPath, ['--import', 'tsx', 'shared/process/run.ts', ...modules], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', TMPDIR: tmp, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  child.once('exit', () => rmSync(tmp, { recursive: true, force: true }));
  child.stdout?.resume();
  child.stderr?.resume();
  return child;
}

/** Waits for a child to exit (or kills it after `ms`). */
export async function exited(child: ChildProcess, ms = 10_000): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      child.kill('SIGKILL');
    }, ms);
    child.once('exit', (code) => {
      clearTimeout(t);
      resolve(code);
    });
  });
}
