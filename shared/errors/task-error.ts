/**
 * Base of every error a job step may throw on purpose. The step runner classifies failures by
 * these two fields, never by class name: `retryable` says whether another attempt can help,
 * `code` is the public `error.code` a failed job shows (README, Jobs API).
 */
export class TaskError extends Error {
  constructor(
    message: string,
    /** Public, stable: written to `jobs.error_code` when this error ends the job. */
    readonly code: string,
    /** Whether a retry (with backoff) may succeed. */
    readonly retryable: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}
