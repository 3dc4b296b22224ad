import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import { ProcessFailedError } from './process-failed-error.ts';

/** Options for {@link runProcess}. */
export interface RunProcessOptions {
  /** Aborting kills the child's whole process group and rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Working directory of the child. Default: the parent's cwd. */
  cwd?: string;
  /** Bytes of stderr kept (the tail; older output is dropped). Default: 1 MiB. */
  maxOutputBytes?: number;
  /** Written to the child's stdin, which is then closed. Default: stdin is empty (`/dev/null`). */
  input?: string | Buffer;
  /** Called with the child's pid (= its process-group id) once it is spawned, e.g. for logging. */
  onSpawn?: (pid: number) => void;
}

/** What a successful {@link runProcess} returns. */
export interface RunProcessResult {
  /** All of stdout, UTF-8. Only use for commands with small output (ffprobe JSON, encoder lists). */
  stdout: string;
  /** The last `maxOutputBytes` of stderr, UTF-8. */
  stderr: string;
}

const DEFAULT_MAX_OUTPUT_BYTES = 1024 * 1024;

// Process groups of children still running. If the worker dies through an uncaught exception or
// process.exit(), the 'exit' hook kills them so no ffmpeg keeps burning CPU with nobody waiting for it.
// A SIGKILL of the worker runs no hook: the per-child watchdog (WATCHDOG below) covers that case.
const liveGroups = new Set<number>();
let exitHookInstalled = false;

function killGroup(pgid: number): void {
  try {
    process.kill(-pgid, 'SIGKILL');
  } catch {
    // ESRCH: the group is already gone, which is what we want.
  }
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const pgid of liveGroups) killGroup(pgid);
  });
}

/**
 * Runs the command under a watchdog in its process group: a background `cat` holds fd 3, a pipe
 * from this process, and kills the whole group when it reads EOF — which happens when this
 * process dies, even by SIGKILL, where no exit hook runs. `exec` then replaces the shell with the
 * command, so pid, exit code and signals are the command's own.
 */
const WATCHDOG = '(cat <&3 >/dev/null 2>&1; kill -KILL 0) </dev/null >/dev/null 2>&1 & exec "$@" 3<&-';

/** Resolves a command like execvp would, so a missing binary fails as ENOENT before any shell runs. */
function assertExecutable(cmd: string): void {
  const candidates = cmd.includes('/')
    ? [cmd]
    : (process.env.PATH ?? '')
        .split(path.delimiter)
        .filter(Boolean)
        .map((dir) => path.join(dir, cmd));
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      return;
    } catch {
      // try the next PATH entry
    }
  }
  throw Object.assign(new Error(`spawn ${cmd} ENOENT`), {
    code: 'ENOENT',
    errno: -2,
    syscall: `spawn ${cmd}`,
    path: cmd,
  });
}

/** Turns an abort reason into something throwable, keeping a caller's own Error (TimeoutError...) intact. */
export function abortError(signal: AbortSignal, what: string): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof Error) return reason;
  const error = new Error(`${what} aborted`, { cause: reason });
  error.name = 'AbortError';
  return error;
}

/**
 * Runs `cmd args` without a shell and resolves with its output once it exits with code 0.
 *
 * The child is spawned `detached` so it leads its own process group: aborting `signal` kills the whole
 * group with SIGKILL (ffmpeg helpers, `sh` background jobs...) and rejects with `signal.reason` (as-is if
 * it is an Error, else wrapped in an `AbortError` whose `cause` is the reason) once the child is dead.
 * When the child exits on its own, its group is killed too, so stragglers cannot hold the output pipes
 * open. Rejects with {@link ProcessFailedError} on a non-zero exit and with the spawn error (e.g. ENOENT)
 * if the command cannot be started.
 */
export function runProcess(
  cmd: string,
  args: readonly string[],
  options: RunProcessOptions = {},
): Promise<RunProcessResult> {
  const { signal, cwd, input, onSpawn } = options;
  const maxOutputBytes = options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES;

  return new Promise<RunProcessResult>((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortError(signal, cmd));
      return;
    }

    try {
      assertExecutable(cmd);
    } catch (error) {
      reject(error);
      return;
    }
    // fd 3 is the watchdog's lifeline (see WATCHDOG); it is never written.
    const child = spawn('/bin/sh', ['-c', WATCHDOG, 'rendermill-child', cmd, ...args], {
      cwd,
      detached: true,
      stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe', 'pipe'],
    });

    const stdoutChunks: Buffer[] = [];
    const stderrChunks: Buffer[] = [];
    let stderrBytes = 0;
    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    let abortedBy: Error | undefined;
    let settled = false;

    const pid = child.pid;
    if (pid !== undefined) {
      installExitHook();
      liveGroups.add(pid);
    }

    const finish = (error: Error | undefined): void => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      if (pid !== undefined) liveGroups.delete(pid);
      if (error) {
        reject(error);
        return;
      }
      resolve({
        stdout: Buffer.concat(stdoutChunks).toString('utf8'),
        stderr: Buffer.concat(stderrChunks).toString('utf8'),
      });
    };

    function onAbort(): void {
      if (!signal || abortedBy) return;
      abortedBy = abortError(signal, cmd);
      if (pid !== undefined) killGroup(pid);
      // If the child already exited we only waited for its pipes; do not wait any longer.
      if (exit) finish(abortedBy);
    }

    child.stdout?.on('data', (chunk: Buffer) => {
      stdoutChunks.push(chunk);
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      stderrChunks.push(chunk);
      stderrBytes += chunk.length;
      // Keep only the tail: the end of ffmpeg's stderr is where the reason for a failure is.
      while (stderrBytes > maxOutputBytes && stderrChunks.length > 0) {
        const first = stderrChunks[0]!;
        const excess = stderrBytes - maxOutputBytes;
        if (first.length <= excess) {
          stderrChunks.shift();
          stderrBytes -= first.length;
        } else {
          stderrChunks[0] = first.subarray(excess);
          stderrBytes -= excess;
        }
      }
    });

    if (child.stdin) {
      // The child may exit without reading its input (bad arguments); EPIPE then is not our failure.
      child.stdin.on('error', () => {});
      child.stdin.end(input);
    }

    child.on('error', (error) => {
      // Spawn failure (ENOENT, EACCES): there is no process and 'close' may never come.
      finish(abortedBy ?? error);
    });

    child.on('exit', (code, exitSignal) => {
      exit = { code, signal: exitSignal };
      // Kill what the child left behind in its group: they would keep stdout/stderr open and delay
      // 'close' indefinitely (e.g. `sh -c 'sleep 30 &'`). The group id cannot have been reused yet:
      // a pid is not recycled while a group with that id still has members.
      if (pid !== undefined) killGroup(pid);
      // An abort has already killed everything; report it now rather than after the pipes drain.
      if (abortedBy) finish(abortedBy);
    });

    child.on('close', () => {
      if (abortedBy) {
        finish(abortedBy);
        return;
      }
      const code = exit?.code ?? null;
      if (code === 0) {
        finish(undefined);
        return;
      }
      const stderr = Buffer.concat(stderrChunks).toString('utf8');
      finish(new ProcessFailedError(cmd, code, exit?.signal ?? null, stderr));
    });

    signal?.addEventListener('abort', onAbort, { once: true });
    if (pid !== undefined) onSpawn?.(pid);
  });
}
