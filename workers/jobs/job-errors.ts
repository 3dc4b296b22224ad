/** A step ran past its deadline; retried with backoff, final code `step_timeout`. */
export class StepTimeoutError extends Error {
  override readonly name = 'StepTimeoutError';
  readonly code = 'step_timeout';
  constructor(
    readonly step: string,
    readonly deadlineMs: number,
  ) {
    super(`step ${step} did not finish within ${Math.round(deadlineMs / 100) / 10} s`);
  }
}

/** The job was canceled while it ran; the runner ends it as `canceled`, never retried. */
export class JobCanceledError extends Error {
  override readonly name = 'JobCanceledError';
  readonly code = 'canceled';
  constructor() {
    super('job was canceled');
  }
}

/** Input that can never succeed (bad image, unsafe URL, unknown voice): failed at once, no retry. */
export class BadInputError extends Error {
  override readonly name = 'BadInputError';
  constructor(
    message: string,
    readonly code = 'bad_input',
  ) {
    super(message);
  }
}

export interface ClassifiedError {
  code: string;
  message: string;
  retryable: boolean;
}

/**
 * The failure taxonomy: bad input → failed without retry; timeouts and anything unexpected →
 * retried with backoff; after the last attempt the job fails with this code and message.
 */
export function classifyError(err: unknown): ClassifiedError {
  const e = err as { name?: string; code?: string; message?: string; reason?: string };
  if (err instanceof BadInputError) return { code: err.code, message: err.message, retryable: false };
  if (e?.name === 'MediaInputError' || e?.code === 'bad_input') {
    return { code: 'bad_input', message: e.message ?? 'invalid input', retryable: false };
  }
  if (e?.name === 'UnsafeUrlError')
    return { code: 'unsafe_url', message: e.message ?? 'URL refused', retryable: false };
  if (err instanceof StepTimeoutError) return { code: err.code, message: err.message, retryable: true };
  if (e?.name === 'FetchLimitError')
    return { code: 'fetch_refused', message: e.message ?? 'fetch refused', retryable: false };
  return { code: 'step_failed', message: (e?.message ?? String(err)).slice(0, 500), retryable: true };
}
