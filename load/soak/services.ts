import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import path from 'node:path';
import { freePort, waitUntil } from './datastores.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');

/** A real process of the platform (`shared/process/run.ts <module>`), logging to a file. */
function spawnRunner(modules: string[], env: Record<string, string>, logFile: string): ChildProcess {
  const log = createWriteStream(logFile, { flags: 'a' });
  const child = spawn(process.execPath, ['--import', 'tsx', 'shared/process/run.ts', ...modules], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  return child;
}

async function ok(url: string): Promise<boolean> {
  const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
  await res.body?.cancel();
  return res.ok;
}

async function stopChild(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

export interface SoakApi {
  url: string;
  stop(): Promise<void>;
}

export async function startApi(env: Record<string, string>, logDir: string): Promise<SoakApi> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawnRunner(
    ['--migrate', 'api/main.ts'],
    { ...env, PORT: String(port) },
    path.join(logDir, 'api.log'),
  );
  try {
    await waitUntil('api', () => ok(`${url}/readyz`), 300_000);
  } catch (err) {
    await stopChild(child, 5_000); // never leave a half-started API behind
    throw err;
  }
  return { url, stop: () => stopChild(child, 20_000) };
}

interface Slot {
  child: ChildProcess;
  metricsPort: number;
  restarts: number;
}

export interface WorkerPool {
  /** SIGKILLs one worker at random; the supervisor starts a replacement. Returns when it is ready (ms). */
  killRandom(): Promise<{ slot: number; readyAfterMs: number }>;
  metricsUrls(): string[];
  restarts(): number;
  stop(): Promise<void>;
}

/** `n` worker processes under a supervisor that restarts any that exits, after 1 s. */
export async function startWorkers(
  n: number,
  env: Record<string, string>,
  logDir: string,
): Promise<WorkerPool> {
  let stopping = false;
  const slots: Slot[] = [];
  const launch = (i: number, metricsPort: number) => {
    const child = spawnRunner(
      ['workers/main.ts'],
      { ...env, METRICS_PORT: String(metricsPort) },
      path.join(logDir, `worker-${i}.log`),
    );
    child.once('exit', () => {
      if (stopping) return;
      setTimeout(() => {
        if (stopping) return;
        const slot = slots[i] as Slot;
        slot.child = launch(i, metricsPort);
        slot.restarts++;
      }, 1_000);
    });
    return child;
  };
  for (let i = 0; i < n; i++) {
    const metricsPort = await freePort();
    slots.push({ child: launch(i, metricsPort), metricsPort, restarts: 0 });
  }
  const ready = (s: Slot) => ok(`http://127.0.0.1:${s.metricsPort}/readyz`);
  try {
    for (const s of slots) await waitUntil('worker', () => ready(s), 300_000);
  } catch (err) {
    stopping = true;
    await Promise.all(slots.map((s) => stopChild(s.child, 5_000)));
    throw err;
  }
  return {
    async killRandom() {
      const i = Math.floor(Math.random() * slots.length);
      const slot = slots[i] as Slot;
      const before = slot.child;
      const t0 = Date.now();
      before.kill('SIGKILL');
      await waitUntil(
        'replacement worker',
        async () => slot.child !== before && (await ready(slot)),
        300_000,
      );
      return { slot: i, readyAfterMs: Date.now() - t0 };
    },
    metricsUrls: () => slots.map((s) => `http://127.0.0.1:${s.metricsPort}/metrics`),
    restarts: () => slots.reduce((a, s) => a + s.restarts, 0),
    async stop() {
      stopping = true;
      await Promise.all(slots.map((s) => stopChild(s.child, 30_000)));
    },
  };
}
