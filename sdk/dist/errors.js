/** Every error the SDK throws for an HTTP answer. `requestId` is what support asks for. */
export class RendermillError extends Error {
  name = 'RendermillError';
  status;
  code;
  requestId;
  problem;
  constructor(status, problem, requestId) {
    super(problem.detail ?? problem.title ?? `HTTP ${status}`);
    this.status = status;
    this.code = problem.code ?? 'unknown';
    this.problem = problem;
    this.requestId = requestId ?? problem.request_id ?? null;
  }
}
/** 400 `validation_failed`: `errors` name each field by JSON pointer (`/scenes/2/text`). */
export class ValidationError extends RendermillError {
  name = 'ValidationError';
  get errors() {
    return this.problem.errors ?? [];
  }
  /** The JSON pointers of the invalid fields. */
  get paths() {
    return this.errors.map((e) => e.path);
  }
}
/** 401: missing, expired or revoked credentials. */
export class AuthenticationError extends RendermillError {
  name = 'AuthenticationError';
}
/** 403 `forbidden`: the role does not allow it. */
export class PermissionError extends RendermillError {
  name = 'PermissionError';
}
/** 403 `upgrade_required`: the plan does not allow it; `plan` is the first plan that does. */
export class UpgradeRequiredError extends RendermillError {
  name = 'UpgradeRequiredError';
  get feature() {
    return String(this.problem.feature ?? '');
  }
  get plan() {
    return String(this.problem.plan ?? '');
  }
}
/** 402 `quota_exceeded`. */
export class QuotaExceededError extends RendermillError {
  name = 'QuotaExceededError';
  get metric() {
    return String(this.problem.metric ?? '');
  }
  get limit() {
    return Number(this.problem.limit);
  }
  get used() {
    return Number(this.problem.used);
  }
  get reserved() {
    return Number(this.problem.reserved);
  }
  get requested() {
    return Number(this.problem.requested);
  }
  get resetsAt() {
    return String(this.problem.resets_at ?? '');
  }
  /** Same as `resetsAt`, in the API's spelling. */
  get resets_at() {
    return this.resetsAt;
  }
}
/** 404. */
export class NotFoundError extends RendermillError {
  name = 'NotFoundError';
}
/** 409: e.g. an Idempotency-Key reused with another body, or canceling a finished job. */
export class ConflictError extends RendermillError {
  name = 'ConflictError';
}
/** 429, after the SDK's own retries. `retryAfterSeconds` from the Retry-After header. */
export class RateLimitedError extends RendermillError {
  name = 'RateLimitedError';
  retryAfterSeconds = null;
}
/** The API could not be reached (after retries), or a request timed out. */
export class ConnectionError extends Error {
  cause;
  name = 'ConnectionError';
  constructor(message, cause) {
    super(message);
    this.cause = cause;
  }
}
/** A job ended `failed` (from `.wait()`); `job` is its final state. */
export class JobFailedError extends Error {
  job;
  name = 'JobFailedError';
  constructor(job) {
    super(`Job ${job.id} failed${job.error ? `: ${job.error.code}: ${job.error.message}` : ''}`);
    this.job = job;
  }
}
/** A job ended `canceled` (from `.wait()`). */
export class JobCanceledError extends Error {
  job;
  name = 'JobCanceledError';
  constructor(job) {
    super(`Job ${job.id} was canceled`);
    this.job = job;
  }
}
/** `.wait({ timeoutMs })` ran out before the job finished; the job goes on. */
export class WaitTimeoutError extends Error {
  jobId;
  name = 'WaitTimeoutError';
  constructor(jobId) {
    super(`Job ${jobId} did not finish in time (it is still running)`);
    this.jobId = jobId;
  }
}
/** Maps an error answer onto its typed error. */
export function errorFor(status, problem, requestId) {
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
