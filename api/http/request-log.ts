import type { RequestHandler } from 'express';
import type { Logger } from '../../shared/logging/logger.ts';

/**
 * One structured line per request. Only method, path (never the query string, which can hold a
 * token), status, duration, request id and tenant — no headers, no bodies.
 */
export function requestLog(logger: Logger): RequestHandler {
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      logger.info(
        {
          request_id: req.id,
          method: req.method,
          path: req.originalUrl.split('?')[0],
          status: res.statusCode,
          ms: Math.round(ms * 10) / 10,
          tenant_id: req.principal?.tenantId,
        },
        'request',
      );
    });
    next();
  };
}
