import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '..');

/**
 * Starts `shared/process/run.ts <modules>` as a real child process — the same entry `npm start`
 * uses — so a chaos scenario can SIGKILL it. It leads its own process group.
 */
export function spawnService(modules: string[], env: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'shared/process/run.ts', ...modules], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
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
