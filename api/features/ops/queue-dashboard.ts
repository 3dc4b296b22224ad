import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import { type RequestHandler, Router } from 'express';
import { safeEqual } from '../../../shared/crypto/tokens.ts';
import type { Producer } from '../../../shared/queue/producer.ts';
import { ALL_QUEUES } from '../../../shared/queue/queues.ts';

export const DASHBOARD_PATH = '/admin/queues';

/**
 * HTTP Basic auth for operators (user `ops`, password OPS_TOKEN): a browser prompts for it,
 * and it is independent of tenants — the dashboard shows every tenant's queue entries.
 */
function opsBasicAuth(token: string): RequestHandler {
  const expected = `Basic ${Buffer.from(`ops:${token}`).toString('base64')}`;
  return (req, res, next) => {
    if (safeEqual(req.get('authorization') ?? '', expected)) {
      next();
      return;
    }
    res.setHeader('WWW-Authenticate', 'Basic realm="rendermill-ops", charset="UTF-8"');
    res.status(401).type('application/problem+json').json({
      type: 'https://docs.rendermill.dev/errors/unauthenticated',
      title: 'Unauthenticated',
      status: 401,
      code: 'unauthenticated',
      detail: 'The queue dashboard needs the operator credentials',
      request_id: req.id,
    });
  };
}

/**
 * The BullMQ queue dashboard (bull-board) for operators, at /admin/queues. Off unless OPS_TOKEN
 * is set: then the path is a plain 404 like any unknown route.
 */
export function queueDashboard(deps: { producer: Producer; opsToken?: string }): Router {
  const r = Router();
  if (!deps.opsToken) return r;
  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath(DASHBOARD_PATH);
  createBullBoard({
    queues: ALL_QUEUES.map((q) => new BullMQAdapter(deps.producer.queue(q))),
    serverAdapter,
    options: { uiConfig: { boardTitle: 'Rendermill queues' } },
  });
  r.use(DASHBOARD_PATH, opsBasicAuth(deps.opsToken), serverAdapter.getRouter() as RequestHandler);
  return r;
}
