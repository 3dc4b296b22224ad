/** The problem+json body every Rendermill error answers with (RFC 9457). */
export interface Problem {
  type?: string;
  title?: string;
  status?: number;
  detail?: string;
  code?: string;
  request_id?: string;
  [key: string]: unknown;
}

/** Every error the SDK throws for an HTTP answer. `requestId` is what support asks for. */
export class RendermillError extends Error {
  override name = 'RendermillError';
  readonly status: number;
  readonly code: string;
  readonly requestId: string | null;
  readonly problem: Problem;
  constructor(status: number, problem: Problem, requestId: string | null) {
    super(problem.detail ?? problem.title ?? `HTTP ${status}`);
    this.status = status;
    this.code = problem.code ?? 'unknown';
    this.problem = problem;
    this.requestId = requestId ?? problem.request_id ?? null;
  }
}

/** 400 `validation_failed`: `errors` name each field by JSON pointer (`/scenes/2/text`). */
export class ValidationError extends RendermillError {
  override name = 'ValidationError';
  get errors(): Array<{ path: string; message: string }> {
    return (this.problem.errors as Array<{ path: string; message: string }> | undefined) ?? [];
  }
  /** The JSON pointers of the invalid fields. */
  get paths(): string[] {
    return this.errors.map((e) => e.path);
  }
}

/** 401: missing, expired or revoked credentials. */
export class AuthenticationError extends RendermillError {
  override name = 'AuthenticationError';
}

/** 403 `forbidden`: the role does not allow it. */
export class PermissionError extends RendermillError {
  override name = 'PermissionError';
}

/** 403 `upgrade_required`: the plan does not allow it; `plan` is the first plan that does. */
export class UpgradeRequiredError extends RendermillError {
  override name = 'UpgradeRequiredError';
  get feature(): string {
    return String(this.problem.feature ?? '');
  }
  get plan(): string {
    return String(this.problem.plan ?? '');
  }
}

/** 402 `quota_exceeded`. */
export class QuotaExceededError extends RendermillError {
  override name = 'QuotaExceededError';
  get metric(): string {
    return String(this.problem.metric ?? '');
  }
  get limit(): number {
    return Number(this.problem.limit);
  }
  get used(): number {
    return Number(this.problem.used);
  }
  get reserved(): number {
    return Number(this.problem.reserved);
  }
  get requested(): number {
    return Number(this.problem.requested);
  }
  get resetsAt(): string {
    return String(this.problem.resets_at ?? '');
  }
  /** Same as `resetsAt`, in the API's spelling. */
  get resets_at(): string {
    return this.resetsAt;
  }
}

/** 404. */
export class NotFoundError extends RendermillError {
  override name = 'NotFoundError';
}

/** 409: e.g. an Idempotency-Key reused with another body, or canceling a finished job. */
export class ConflictError extends RendermillError {
  override name = 'ConflictError';
}

/** 429, after the SDK's own retries. `retryAfterSeconds` from the Retry-After header. */
export class RateLimitedError extends RendermillError {
  override name = 'RateLimitedError';
  retryAfterSeconds: number | null = null;
}

/** The API could not be reached (after retries), or a request timed out. */
export class ConnectionError extends Error {
  override name = 'ConnectionError';
  constructor(
    message: string,
    override readonly cause?: unknown,
  ) {
    super(message);
  }
}

/** A job ended `failed` (from `.wait()`); `job` is its final state. */
export class JobFailedError extends Error {
  override name = 'JobFailedError';
  constructor(readonly job: { id: string; status: string; error: { code: string; message: string } | null }) {
    super(`Job ${job.id} failed${job.error ? `: ${job.error.code}: ${job.error.message}` : ''}`);
  }
}

/** A job ended `canceled` (from `.wait()`). */
export class JobCanceledError extends Error {
  override name = 'JobCanceledError';
  constructor(readonly job: { id: string; status: string }) {
    super(`Job ${job.id} was canceled`);
  }
}

/** `.wait({ timeoutMs })` ran out before the job finished; the job goes on. */
export class WaitTimeoutError extends Error {
  override name = 'WaitTimeoutError';
  constructor(readonly jobId: string) {
    super(`Job ${jobId} did not finish in time (it is still running)`);
  }
}

/** Maps an error answer onto its typed error. */
export function errorFor(status: number, problem: Problem, requestId: string | null): RendermillError {
  if (status === 400 || problem.code === 'validation_failed')
    return new ValidationError(status, problem, requestId);
  if (status === 401) return new AuthenticationError(status, problem, requestId);
  if (status === 402) return new QuotaExceededError(status, problem, requestId);
  if (status === 403)
    return problem.code === 'upgrade_required'
      ? new UpgradeRequiredError(status, problem, requestId)
      : new PermissionError(status, problem, requestId);
  if (status === 404) return new NotFoundError(status, problem, requestId);
  if (status === 409) return new ConflictError(status, problem, requestId);
  if (status === 429) return new RateLimitedError(status, problem, requestId);
  return new RendermillError(status, problem, requestId);
}
