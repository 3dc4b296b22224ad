/**
 * A process cannot start for a reason its operator can fix (a missing tool, a queue name that does
 * not exist). The message is written for them, is printed as it is by `shared/process/run.ts`, and
 * the process exits 1 instead of logging a stack trace.
 */
export class StartupError extends Error {
  override readonly name = 'StartupError';
}
