import { ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { Cluster, Redis } from 'ioredis';
import pg from 'pg';

/**
 * Finds what a test file left open: Redis connections (ioredis, so BullMQ workers and queues too),
 * Postgres connections (pg clients, so knex pools), listening servers (HTTP, SMTP sink, fakes) and
 * child processes. Each is recorded where it is created, by patching the one method every such
 * object goes through (`connect`, `listen`, `ChildProcess#spawn`); the record keeps the creating
 * stack frame so the report says where the leak was made.
 *
 * Not tracked, on purpose: timers and raw sockets (fetch's keep-alive pool holds sockets for
 * seconds after a test and is not ours to close), and grandchildren of spawned processes.
 */
export interface Leak {
  kind: 'redis' | 'postgres' | 'server' | 'child process';
  what: string;
  createdAt: string;
}

export interface LeakTracker {
  /**
   * What is still open. Closing is asynchronous (a socket's `close` arrives a tick or more after
   * `disconnect()`), so it waits up to `graceMs` for open things to close before reporting them.
   */
  leaks(opts?: { graceMs?: number }): Promise<Leak[]>;
  /** Stops recording (what was recorded is kept). */
  stop(): void;
}

interface Tracked {
  kind: Leak['kind'];
  ref: WeakRef<object>;
  createdAt: string;
  describe(): string | undefined;
}

interface Registry {
  entries: Tracked[];
  /** Reconnects call `connect` again on the same object: one record each. */
  seen: WeakSet<object>;
}

const trackers = new Set<Registry>();
const ROOT = path.resolve(import.meta.dirname, '../..');
const HERE = path.basename(import.meta.filename);

/**
 * The first three frames of this repository outside node_modules and this file: who made the
 * resource (a factory such as `createRedis`, then its caller).
 */
function creator(): string {
  // Library frames (BullMQ, knex's pool) push ours past the default limit of 10.
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 40;
  const stack = new Error().stack ?? '';
  Error.stackTraceLimit = limit;
  const frames = stack.split('\n').slice(1);
  const ours = frames.filter((f) => f.includes(ROOT) && !f.includes('node_modules') && !f.includes(HERE));
  return (ours.length ? ours.slice(0, 3) : frames.slice(-1))
    .map((f) => f.trim().replace(/^at /, '').replaceAll(`${ROOT}/`, ''))
    .join(' < ');
}

function record(kind: Leak['kind'], obj: object, describe: () => string | undefined): void {
  if (!trackers.size) return;
  let entry: Tracked | undefined;
  for (const t of trackers) {
    if (t.seen.has(obj)) continue;
    entry ??= { kind, ref: new WeakRef(obj), createdAt: creator(), describe };
    t.seen.add(obj);
    t.entries.push(entry);
  }
}

const PATCHED = Symbol.for('rendermill.leak-guard.patched');

function patch<T extends object>(
  proto: T,
  method: keyof T & string,
  onCall: (self: never, args: unknown[]) => void,
): void {
  const p = proto as Record<string | symbol, unknown>;
  const original = p[method] as ((...a: unknown[]) => unknown) & { [PATCHED]?: true };
  if (original[PATCHED]) return;
  const wrapped = function (this: never, ...args: unknown[]) {
    onCall(this, args);
    return original.apply(this, args);
  };
  (wrapped as unknown as Record<symbol, boolean>)[PATCHED] = true;
  p[method] = wrapped;
}

function redisName(r: Redis): string {
  const o = r.options;
  return `${o.connectionName ?? 'unnamed'} ${o.path ?? `${o.host}:${o.port}/${o.db ?? 0}`}`;
}

/**
 * `end`, or disconnected between two reconnect attempts: ioredis then clears its retry timer but
 * never leaves `reconnecting` (no socket is left to emit `close`), though nothing is open.
 */
function redisClosed(r: Redis): boolean {
  if (r.status === 'end') return true;
  const internals = r as unknown as {
    manuallyClosing?: boolean;
    reconnectTimeout?: unknown;
    stream?: net.Socket;
  };
  return (
    r.status === 'reconnecting' &&
    internals.manuallyClosing === true &&
    !internals.reconnectTimeout &&
    (!internals.stream || internals.stream.destroyed)
  );
}

/**
 * `end`, or `close` after `disconnect()` with no retry pending (ioredis can stop there). The
 * cluster's sockets belong to its node connections, which are tracked as Redis connections.
 */
function clusterClosed(c: Cluster): boolean {
  if (c.status === 'end') return true;
  const internals = c as unknown as { manuallyClosing?: boolean; reconnectTimeout?: unknown };
  return c.status === 'close' && internals.manuallyClosing === true && !internals.reconnectTimeout;
}

function installHooks(): void {
  patch(Redis.prototype, 'connect', (self: Redis) => {
    record('redis', self, () => (redisClosed(self) ? undefined : `${redisName(self)} (${self.status})`));
  });
  patch(Cluster.prototype, 'connect', (self: Cluster) => {
    record('redis', self, () => (clusterClosed(self) ? undefined : `cluster (${self.status})`));
  });
  type PgClient = pg.Client & { _ending?: boolean; _ended?: boolean; _connected?: boolean };
  patch(pg.Client.prototype, 'connect', (self: PgClient) => {
    // Closed: the socket is gone, and either end() was called or it never got as far as a session.
    // A session the server dropped (the file's database is dropped WITH (FORCE) at cleanup) but
    // nobody ended belongs to a pool that was never destroyed.
    record('postgres', self, () =>
      self._ended && (self._ending || !self._connected)
        ? undefined
        : `pg client ${self.user}@${self.host}:${self.port}/${self.database}${self._ended ? ' (dropped by the server, never ended)' : ''}`,
    );
  });
  patch(net.Server.prototype, 'listen', (self: net.Server) => {
    record('server', self, () => {
      if (!self.listening) return undefined;
      const a = self.address();
      return `${self.constructor.name} on ${typeof a === 'string' ? a : `${a?.address}:${a?.port}`}`;
    });
  });
  // Every spawn, exec, execFile and fork goes through ChildProcess#spawn.
  const cp = ChildProcess.prototype as ChildProcess & { spawn(opts: unknown): unknown };
  patch(cp, 'spawn', (self: ChildProcess, args) => {
    const file = (args[0] as { file?: string; args?: string[] } | undefined) ?? {};
    const line = (file.args ?? [file.file ?? '?']).join(' ').slice(0, 160);
    record('child process', self, () =>
      // No pid: it never started (ENOENT), so there is nothing to leave running.
      self.pid === undefined || self.exitCode !== null || self.signalCode !== null
        ? undefined
        : `pid ${self.pid}: ${line}`,
    );
  });
}

/** Starts recording resources created from now on, in this process. */
export function startLeakTracking(): LeakTracker {
  installHooks();
  const registry: Registry = { entries: [], seen: new WeakSet() };
  trackers.add(registry);
  const open = (): Leak[] =>
    registry.entries.flatMap((e) => {
      // Collected by the GC: nothing referenced it, and a live socket or child keeps its owner referenced.
      if (!e.ref.deref()) return [];
      const what = e.describe();
      return what ? [{ kind: e.kind, what, createdAt: e.createdAt }] : [];
    });
  return {
    async leaks({ graceMs = 2_000 } = {}) {
      const deadline = Date.now() + graceMs;
      let found = open();
      while (found.length && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 25));
        found = open();
      }
      return found;
    },
    stop() {
      trackers.delete(registry);
    },
  };
}

/** One line per leak, for the error that fails the file. */
export function formatLeaks(leaks: Leak[]): string {
  return leaks.map((l) => `  ${l.kind}: ${l.what}\n    created at ${l.createdAt}`).join('\n');
}
