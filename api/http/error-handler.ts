import type { ErrorRequestHandler, RequestHandler } from 'express';
import { databaseUnavailableReason } from '../../shared/db/database-unavailable.ts';
import { AppError } from '../../shared/errors/app-error.ts';
import {
  DatabaseUnavailableError,
  NotFoundError,
  PayloadTooLargeError,
  ValidationError,
} from '../../shared/errors/http-errors.ts';
import type { Logger } from '../../shared/logging/logger.ts';
import type { Metrics } from '../../shared/metrics/metrics.ts';
import { reportError } from '../../shared/observability/sentry.ts';

/** body-parser's errors carry `type` and `status`; map the ones a client causes. */
function fromParserError(err: unknown): AppError | null {
  const e = err as { type?: string; status?: number };
  if (e?.type === 'entity.too.large') return new PayloadTooLargeError('Request body exceeds the 1 MB limit');
  if (e?.type === 'entity.parse.failed')
    return new ValidationError([{ path: '', message: 'Malformed JSON body' }]);
  if (e?.type === 'encoding.unsupported' || e?.type === 'charset.unsupported') {
    return new ValidationError([{ path: '', message: 'Unsupported body encoding' }], 400);
  }
  return null;
}

/** What the driver throws when Postgres is down or drops the connection: a 503 to retry, not a 500. */
function fromDatabaseError(err: unknown): DatabaseUnavailableError | null {
  const reason = databaseUnavailableReason(err);
  return reason ? new DatabaseUnavailableError(reason) : null;
}

export function notFoundHandler(): RequestHandler {
  return (req, _res, next) => next(new NotFoundError(`No route for ${req.method} ${req.path}`));
}

/** The one place errors become HTTP answers: application/problem+json (RFC 9457). */
export function errorHandler(
  logger: Logger,
  metrics: Pick<Metrics, 'databaseUnavailable'>,
): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const known = err instanceof AppError ? err : (fromParserError(err) ?? fromDatabaseError(err));
    const status = known?.status ?? 500;
    if (!known) {
      logger.error({ err, request_id: req.id }, 'unhandled error');
      reportError(err, { request_id: req.id, tenant_id: req.principal?.tenantId });
    }
    if (known instanceof DatabaseUnavailableError) {
      // An outage, not a bug: /readyz, the 5xx alert and this counter report it, so it is not
      // sent to Sentry (a restart would bury real errors). Only the reason is logged: the
      // driver's message carries the failed statement's SQL.
      logger.warn({ request_id: req.id, reason: known.reason }, 'database unavailable');
      metrics.databaseUnavailable.inc({ reason: known.reason });
    }
    if (res.headersSent) {
      res.destroy();
      return;
    }
    for (const [k, v] of Object.entries(known?.headers ?? {})) res.setHeader(k, v);
    res
      .status(status)
      .type('application/problem+json')
      .json({
        type: `https://docs.rendermill.dev/errors/${known?.code ?? 'internal'}`,
        title: known?.title ?? 'Internal error',
        status,
        detail: known
          ? known.message
          : 'An unexpected error occurred; quote the request id when reporting it',
        code: known?.code ?? 'internal',
        request_id: req.id,
        instance: req.originalUrl.split('?')[0],
        ...(known?.extras ?? {}),
      });
  };
}
