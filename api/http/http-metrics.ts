import type { RequestHandler } from 'express';
import type { Metrics } from '../../shared/metrics/metrics.ts';

/** HTTP duration histogram labelled by the matched route pattern (bounded cardinality), not the raw path. */
export function httpMetrics(metrics: Metrics): RequestHandler {
  return (req, res, next) => {
    const end = metrics.httpDuration.startTimer();
    res.on('finish', () => {
      const route = req.route?.path ? String(req.route.path) : 'unmatched';
      end({ method: req.method, route, status: String(res.statusCode) });
    });
    next();
  };
}
