import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { chmod, chown, mkdir, readdir } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';

/**
 * The soak's own Redis and Postgres: other test suites share the machine's 6379 and 5432, so the
 * fault injector restarts only these, started on free ports in the soak's temp directory.
 */
const exec = promisify(execFile);

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

export async function waitUntil(
  what: string,
  probe: () => Promise<boolean>,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`${what} did not come up in ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

export interface OwnRedis {
  url: string;
  port: number;
  /** SIGKILLs the server (AOF on, appendfsync everysec) and starts it again on the same files. */
  restart(downMs: number): Promise<void>;
  stop(): Promise<void>;
}

export async function startOwnRedis(dir: string): Promise<OwnRedis> {
  await mkdir(dir, { recursive: true });
  const port = await freePort();
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--appendonly',
    'yes',
    '--appendfsync',
    'everysec',
    '--save',
    '',
    '--maxmemory',
    '512mb',
    '--maxmemory-policy',
    'noeviction',
    '--daemonize',
    'no',
  ];
  let child: ChildProcess | undefined;
  const ping = async () => (await exec('redis-cli', ['-p', String(port), 'ping'])).stdout.trim() === 'PONG';
  const launch = async () => {
    child = spawn('redis-server', args, { stdio: 'ignore' });
    await waitUntil('redis', ping);
  };
  const kill = async (signal: NodeJS.Signals) => {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      c.once('exit', () => resolve());
      c.kill(signal);
    });
  };
  await launch();
  return {
    url: `redis://127.0.0.1:${port}/0`,
    port,
    async restart(downMs) {
      await kill('SIGKILL');
      await new Promise((r) => setTimeout(r, downMs));
      await launch();
    },
    stop: () => kill('SIGTERM'),
  };
}

export interface OwnPostgres {
  url: string;
  port: number;
  /** Stops the cluster in immediate mode (a crash: recovery on start) and starts it again. */
  restart(downMs: number): Promise<void>;
  stop(): Promise<void>;
}

async function pgBin(): Promise<string> {
  const versions = (await readdir('/usr/lib/postgresql')).sort((a, b) => Number(a) - Number(b));
  const v = versions.at(-1);
  if (!v) throw new Error('no PostgreSQL server binaries under /usr/lib/postgresql');
  return `/usr/lib/postgresql/${v}/bin`;
}

export async function startOwnPostgres(dir: string): Promise<OwnPostgres> {
  const bin = await pgBin();
  const port = await freePort();
  const data = path.join(dir, 'data');
  await mkdir(dir, { recursive: true });
  // initdb and pg_ctl refuse to run as root: run them as the postgres user, who owns the cluster.
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const { stdout } = await exec('id', ['-u', 'postgres']);
    const { stdout: gid } = await exec('id', ['-g', 'postgres']);
    await chmod(path.dirname(dir), 0o755);
    await chown(dir, Number(stdout.trim()), Number(gid.trim()));
  }
  const pg = (tool: string, args: string[]) =>
    asRoot
      ? exec('runuser', ['-u', 'postgres', '--', path.join(bin, tool), ...args], { timeout: 120_000 })
      : exec(path.join(bin, tool), args, { timeout: 120_000 });
  await pg('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync']);
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c max_connections=200 -c shared_buffers=64MB`;
  const start = () =>
    pg('pg_ctl', ['-D', data, '-l', path.join(dir, 'postgres.log'), '-o', options, '-w', 'start']);
  await start();
  return {
    url: `postgres://postgres@127.0.0.1:${port}/rendermill`,
    port,
    async restart(downMs) {
      await pg('pg_ctl', ['-D', data, '-m', 'immediate', 'stop']);
      await new Promise((r) => setTimeout(r, downMs));
      await start();
    },
    async stop() {
      await pg('pg_ctl', ['-D', data, '-m', 'fast', 'stop']).catch(() => undefined);
    },
  };
}
