import { TaskError } from '../../shared/errors/task-error.ts';

export { TaskError };

/** A step ran past its deadline; retried with backoff, final code `step_timeout`. */
export class StepTimeoutError extends TaskError {
  constructor(
    readonly step: string,
    readonly deadlineMs: number,
  ) {
    super(`step ${step} did not finish within ${Math.round(deadlineMs / 100) / 10} s`, 'step_timeout', true);
  }
}

/** The job was canceled while it ran; the runner ends it as `canceled`, never retried. */
export class JobCanceledError extends TaskError {
  constructor() {
    super('job was canceled', 'canceled', false);
  }
}

/** Input that can never succeed (bad image, unsafe URL, unknown voice): failed at once, no retry. */
export class BadInputError extends TaskError {
  constructor(message: string, code = 'bad_input') {
    super(message, code, false);
  }
}

export interface ClassifiedError {
  code: string;
  message: string;
  retryable: boolean;
}

/**
 * The failure taxonomy, read from the error's own `code` and `retryable` (a `TaskError`):
 * bad input → failed without retry; timeouts → retried with backoff. Anything else is
 * unexpected: `step_failed`, retried. After the last attempt the job fails with this code and message.
 */
export function classifyError(err: unknown): ClassifiedError {
  if (err instanceof TaskError) {
    const message = err.code === 'step_failed' ? err.message.slice(0, 500) : err.message;
    return { code: err.code, message, retryable: err.retryable };
  }
  const message =
    typeof err === 'object' && err !== null && 'message' in err && typeof err.message === 'string'
      ? err.message
      : String(err);
  return { code: 'step_failed', message: message.slice(0, 500), retryable: true };
}
