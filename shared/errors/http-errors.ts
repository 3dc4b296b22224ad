import { AppError } from './app-error.ts';

/** One entry per invalid field; `path` is a JSON pointer into the request body. */
export interface FieldError {
  path: string;
  message: string;
}

export class ValidationError extends AppError {
  constructor(
    readonly errors: FieldError[],
    status: 400 | 422 = 400,
  ) {
    const first = errors[0];
    super(
      status,
      'validation_failed',
      'Validation failed',
      first ? `${first.path || '/'}: ${first.message}` : undefined,
      { errors },
    );
  }
}

export class UnauthenticatedError extends AppError {
  constructor(detail = 'Missing or invalid credentials') {
    super(401, 'unauthenticated', 'Unauthenticated', detail, {}, { 'WWW-Authenticate': 'Bearer' });
  }
}

export class ForbiddenError extends AppError {
  constructor(detail = 'Your role does not allow this action') {
    super(403, 'forbidden', 'Forbidden', detail);
  }
}

export class UpgradeRequiredError extends AppError {
  constructor(feature: string, plan: string, detail?: string) {
    super(
      403,
      'upgrade_required',
      'Upgrade required',
      detail ?? `${feature} needs the ${plan} plan or above`,
      {
        feature,
        plan,
      },
    );
  }
}

export class NotFoundError extends AppError {
  constructor(detail = 'Not found') {
    super(404, 'not_found', 'Not found', detail);
  }
}

export class ConflictError extends AppError {
  constructor(detail: string) {
    super(409, 'conflict', 'Conflict', detail);
  }
}

export class PayloadTooLargeError extends AppError {
  constructor(detail = 'Request body is too large') {
    super(413, 'payload_too_large', 'Payload too large', detail);
  }
}

export interface QuotaDetails {
  metric: string;
  limit: number;
  used: number;
  reserved: number;
  requested: number;
  resets_at: string;
}

export class QuotaExceededError extends AppError {
  constructor(readonly details: QuotaDetails) {
    super(
      402,
      'quota_exceeded',
      'Quota exceeded',
      `${details.metric}: ${details.requested} requested, ${Math.max(0, details.limit - details.used - details.reserved)} left this period`,
      { ...details },
    );
  }
}

export class RateLimitedError extends AppError {
  constructor(retryAfterSeconds: number) {
    const s = Math.max(1, Math.ceil(retryAfterSeconds));
    super(429, 'rate_limited', 'Too many requests', `Retry in ${s} s`, {}, { 'Retry-After': String(s) });
  }
}

export class UnavailableError extends AppError {
  constructor(detail = 'Service unavailable', retryAfterSeconds = 5) {
    super(
      503,
      'unavailable',
      'Service unavailable',
      detail,
      {},
      { 'Retry-After': String(retryAfterSeconds) },
    );
  }
}

/**
 * Postgres is unreachable or dropping connections (a restart, a failover): the request may be
 * sent again shortly. Built by the error handler from what the driver threw
 * (shared/db/database-unavailable.ts); stores and services never throw it themselves.
 */
export class DatabaseUnavailableError extends AppError {
  constructor(
    /** What the driver said (a SQLSTATE, a socket error code, …): for the log and the metric, not the answer. */
    readonly reason: string,
    retryAfterSeconds = 5,
  ) {
    super(
      503,
      'database_unavailable',
      'Database unavailable',
      'The database is not answering (restarting or unreachable); retry after Retry-After seconds. A submit sent again with the same Idempotency-Key never runs twice.',
      {},
      { 'Retry-After': String(retryAfterSeconds) },
    );
  }
}
