import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import { type RequestHandler, Router } from 'express';
import type { Producer } from '../../../shared/queue/producer.ts';
import { ALL_QUEUES } from '../../../shared/queue/queues.ts';
import { opsBasicAuth } from './ops-auth.ts';

export const DASHBOARD_PATH = '/admin/queues';

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
  r.use(
    DASHBOARD_PATH,
    opsBasicAuth(deps.opsToken, 'The queue dashboard'),
    serverAdapter.getRouter() as RequestHandler,
  );
  return r;
}
