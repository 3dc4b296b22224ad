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
export declare class RendermillError extends Error {
  name: string;
  readonly status: number;
  readonly code: string;
  readonly requestId: string | null;
  readonly problem: Problem;
  constructor(status: number, problem: Problem, requestId: string | null);
}
/** 400 `validation_failed`: `errors` name each field by JSON pointer (`/scenes/2/text`). */
export declare class ValidationError extends RendermillError {
  name: string;
  get errors(): Array<{
    path: string;
    message: string;
  }>;
  /** The JSON pointers of the invalid fields. */
  get paths(): string[];
}
/** 401: missing, expired or revoked credentials. */
export declare class AuthenticationError extends RendermillError {
  name: string;
}
/** 403 `forbidden`: the role does not allow it. */
export declare class PermissionError extends RendermillError {
  name: string;
}
/** 403 `upgrade_required`: the plan does not allow it; `plan` is the first plan that does. */
export declare class UpgradeRequiredError extends RendermillError {
  name: string;
  get feature(): string;
  get plan(): string;
}
/** 402 `quota_exceeded`. */
export declare class QuotaExceededError extends RendermillError {
  name: string;
  get metric(): string;
  get limit(): number;
  get used(): number;
  get reserved(): number;
  get requested(): number;
  get resetsAt(): string;
  /** Same as `resetsAt`, in the API's spelling. */
  get resets_at(): string;
}
/** 404. */
export declare class NotFoundError extends RendermillError {
  name: string;
}
/** 409: e.g. an Idempotency-Key reused with another body, or canceling a finished job. */
export declare class ConflictError extends RendermillError {
  name: string;
}
/** 429, after the SDK's own retries. `retryAfterSeconds` from the Retry-After header. */
export declare class RateLimitedError extends RendermillError {
  name: string;
  retryAfterSeconds: number | null;
}
/** The API could not be reached (after retries), or a request timed out. */
export declare class ConnectionError extends Error {
  readonly cause?: unknown | undefined;
  name: string;
  constructor(message: string, cause?: unknown | undefined);
}
/** A job ended `failed` (from `.wait()`); `job` is its final state. */
export declare class JobFailedError extends Error {
  readonly job: {
    id: string;
    status: string;
    error: {
      code: string;
      message: string;
    } | null;
  };
  name: string;
  constructor(job: {
    id: string;
    status: string;
    error: {
      code: string;
      message: string;
    } | null;
  });
}
/** A job ended `canceled` (from `.wait()`). */
export declare class JobCanceledError extends Error {
  readonly job: {
    id: string;
    status: string;
  };
  name: string;
  constructor(job: {
    id: string;
    status: string;
  });
}
/** `.wait({ timeoutMs })` ran out before the job finished; the job goes on. */
export declare class WaitTimeoutError extends Error {
  readonly jobId: string;
  name: string;
  constructor(jobId: string);
}
/** Maps an error answer onto its typed error. */
export declare function errorFor(status: number, problem: Problem, requestId: string | null): RendermillError;
