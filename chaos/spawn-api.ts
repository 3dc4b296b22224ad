import type { ChildProcess } from 'node:child_process';
import net from 'node:net';
import { exited, spawnService } from './spawn-process.ts';

/** A free TCP port on 127.0.0.1 (the OS picks it; a child then listens on it). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface ApiChild {
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** Starts `api/main.ts` as a real child process on a free port and waits until /readyz answers 200. */
export async function spawnApi(env: Record<string, string>): Promise<ApiChild> {
  const port = await freePort();
  const child = spawnService(['api/main.ts'], { ...env, PORT: String(port) });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000; // generous: the CI machine has 2 cores
  for (;;) {
    if (child.exitCode !== null) throw new Error(`api child exited with ${child.exitCode}`);
    const ok = await fetch(`${url}/readyz`)
      .then((r) => r.status === 200)
      .catch(() => false);
    if (ok) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error('api child did not become ready');
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    child,
    async stop() {
      child.kill('SIGTERM');
      await exited(child, 15_000);
    },
  };
}
