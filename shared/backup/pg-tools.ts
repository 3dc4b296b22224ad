import { spawn } from 'node:child_process';
import { access } from 'node:fs/promises';
import path from 'node:path';

/** pg_dump and pg_restore of one PostgreSQL release. */
export interface PgTools {
  pgDump: string;
  pgRestore: string;
  /** Major version of these tools (`15`). */
  major: number;
  /** `pg_dump --version` as printed (`pg_dump (PostgreSQL) 15.20 …`). */
  version: string;
}

/** A pg_dump/pg_restore run that failed; the message carries the tail of its stderr. */
export class PgToolError extends Error {
  override readonly name = 'PgToolError';
}

/**
 * Runs a PostgreSQL client tool without a shell. The password travels in `PGPASSWORD` (never on the
 * command line, where `ps` would show it). Rejects on a non-zero exit, on `timeoutMs` (the child is
 * killed) and on `signal`.
 */
export function runPgTool(
  command: string,
  args: string[],
  opts: { env?: Record<string, string>; timeoutMs: number; signal?: AbortSignal },
): Promise<{ stdout: string }> {
  return new Promise((resolve, reject) => {
    const signal = AbortSignal.any([
      AbortSignal.timeout(opts.timeoutMs),
      ...(opts.signal ? [opts.signal] : []),
    ]);
    const child = spawn(command, args, {
      env: { ...process.env, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      signal,
      killSignal: 'SIGKILL',
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr = (stderr + d).slice(-4000);
    });
    child.on('error', (err) => {
      reject(
        signal.aborted
          ? new PgToolError(`${path.basename(command)} did not finish within ${opts.timeoutMs} ms`)
          : err,
      );
    });
    child.on('close', (code) => {
      if (code === 0) resolve({ stdout });
      else if (!signal.aborted) {
        reject(
          new PgToolError(`${path.basename(command)} exited with ${code}: ${stderr.trim().slice(-1000)}`),
        );
      }
    });
  });
}

/**
 * Finds pg_dump/pg_restore whose major version is at least the server's (an older pg_dump refuses a
 * newer server; a newer one dumps an older server fine). Looks in `binDir` when given, else on PATH,
 * then in Debian's `/usr/lib/postgresql/<server major>/bin`.
 */
export async function findPgTools(serverMajor: number, binDir?: string): Promise<PgTools> {
  const dirs = binDir ? [binDir] : ['', `/usr/lib/postgresql/${serverMajor}/bin`];
  const seen: string[] = [];
  for (const dir of dirs) {
    const pgDump = dir ? path.join(dir, 'pg_dump') : 'pg_dump';
    const pgRestore = dir ? path.join(dir, 'pg_restore') : 'pg_restore';
    if (
      dir &&
      !(await access(pgDump).then(
        () => true,
        () => false,
      ))
    )
      continue;
    const version = await runPgTool(pgDump, ['--version'], { timeoutMs: 10_000 }).then(
      (r) => r.stdout.trim(),
      () => null,
    );
    if (!version) continue;
    const major = Number(/\(PostgreSQL\)\s+(\d+)/.exec(version)?.[1] ?? 0);
    seen.push(`${pgDump}: ${version}`);
    if (major >= serverMajor) return { pgDump, pgRestore, major, version };
  }
  throw new PgToolError(
    `no pg_dump of PostgreSQL ${serverMajor} or newer found (${seen.join('; ') || 'none on PATH'}); set BACKUP_PG_BIN_DIR`,
  );
}

/** Splits a connection URL into a password-free URL for the command line and `PGPASSWORD`. */
export function pgConnection(databaseUrl: string): { url: string; env: Record<string, string> } {
  const u = new URL(databaseUrl);
  const password = decodeURIComponent(u.password);
  u.password = '';
  return { url: u.toString(), env: password ? { PGPASSWORD: password } : {} };
}
