import cluster, { type Worker } from 'node:cluster';
import { backoffDelay } from '../async/backoff.ts';
import type { Config } from '../config/config.ts';
import type { Logger } from '../logging/logger.ts';
import { serveHostMetrics } from '../metrics/host-metrics.ts';

/**
 * The primary of a service run as several processes on one port (node:cluster; the API with
 * API_PROCESSES > 1). It serves nothing itself: it forks `processes` workers, each of which runs
 * this same runner and the module's own `start(config)` (node:cluster's round-robin hands each
 * connection to one of them), restarts a worker that dies, answers their `/metrics` with the sum
 * of all of them (shared/metrics/host-metrics.ts), and on `stop()` lets each drain.
 *
 * A worker whose primary is gone (SIGKILLed) exits by itself: node:cluster ends a worker whose
 * IPC channel closes. Every exit of the primary kills what is left, so no path leaves one behind.
 */
/**
 * What a runner module exports as `processes` to be run as several processes sharing its port
 * (shared/process/run.ts), e.g. the API's `{ name: 'api', setting: 'API_PROCESSES', … }`.
 */
export interface ProcessCount {
  /** What the processes are, for the log. */
  name: string;
  /** The variable that sets the count, for the log. */
  setting: string;
  count(config: Config): number;
}

export interface ClusterOptions {
  /** What the workers are, for the log (`api`). */
  name: string;
  processes: number;
  logger: Logger;
  /** How long `stop()` waits for the workers to drain before it SIGKILLs them (SHUTDOWN_GRACE_SECONDS). */
  graceMs: number;
  /** Called once when workers keep failing to start; the caller stops everything and exits non-zero. */
  onGiveUp(reason: string): void;
}

/** A worker that dies before it has been listening this long failed to start (or crashes at once). */
const STABLE_MS = 10_000;
/** This many such failures in a row in one slot, and the primary gives up instead of looping. */
const MAX_QUICK_FAILURES = 3;
const RESTART_BASE_MS = 500;
const RESTART_MAX_MS = 30_000;

interface Slot {
  index: number;
  worker?: Worker;
  listeningAt?: number;
  /** Failures in a row of this slot's workers before they were stable. */
  quickFailures: number;
  restart?: NodeJS.Timeout;
}

export function startCluster(o: ClusterOptions): { stop(): Promise<void> } {
  const log = o.logger;
  const slots: Slot[] = Array.from({ length: o.processes }, (_, index) => ({ index, quickFailures: 0 }));
  let stopping = false;
  const stopServingMetrics = serveHostMetrics();
  const killAll = () => {
    for (const s of slots) if (s.worker && !s.worker.isDead()) s.worker.process.kill('SIGKILL');
  };
  process.on('exit', killAll);

  const fork = (slot: Slot) => {
    slot.restart = undefined;
    slot.listeningAt = undefined;
    const worker = cluster.fork();
    slot.worker = worker;
    const pid = worker.process.pid;
    worker.on('error', (err: Error) =>
      log.warn({ err: err.message, worker_pid: pid }, `${o.name} process channel error`),
    );
    worker.once('listening', () => {
      slot.listeningAt = Date.now();
      log.info({ worker_pid: pid, slot: slot.index }, `${o.name} process listening`);
    });
    worker.once('exit', (code: number | null, signal: string | null) => {
      if (slot.worker === worker) slot.worker = undefined;
      if (stopping) return;
      const stable = slot.listeningAt !== undefined && Date.now() - slot.listeningAt >= STABLE_MS;
      slot.quickFailures = stable ? 0 : slot.quickFailures + 1;
      if (slot.quickFailures >= MAX_QUICK_FAILURES) {
        log.fatal(
          { worker_pid: pid, code, signal, failures: slot.quickFailures },
          `${o.name} processes keep failing at start-up; giving up`,
        );
        o.onGiveUp(`${slot.quickFailures} ${o.name} processes in a row exited before they were up`);
        return;
      }
      const delayMs = Math.round(
        backoffDelay({ baseMs: RESTART_BASE_MS, attempt: slot.quickFailures + 1, maxMs: RESTART_MAX_MS }),
      );
      log.error(
        { worker_pid: pid, code, signal, slot: slot.index, restart_in_ms: delayMs },
        `${o.name} process died; restarting it`,
      );
      slot.restart = setTimeout(() => fork(slot), delayMs);
    });
  };

  for (const slot of slots) fork(slot);
  log.info({ processes: o.processes }, `${o.name} processes started`);

  return {
    async stop() {
      stopping = true;
      const running: Worker[] = [];
      for (const s of slots) {
        clearTimeout(s.restart);
        if (s.worker && !s.worker.isDead()) running.push(s.worker);
      }
      // SIGTERM, not worker.kill(): that disconnects first, and each worker's runner drains as
      // a lone process would (stops accepting, finishes in-flight requests) with its channel up.
      for (const w of running) w.process.kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.all(running.map((w) => (w.isDead() ? undefined : new Promise((r) => w.once('exit', r))))),
        new Promise<void>((resolve) => {
          timer = setTimeout(() => {
            log.error(`${o.name} processes did not drain in time; killing them`);
            killAll();
            resolve();
          }, o.graceMs);
        }),
      ]);
      clearTimeout(timer);
      stopServingMetrics();
      process.off('exit', killAll);
      log.info(`${o.name} processes stopped`);
    },
  };
}
