import { type Request, Router } from 'express';
import { auditActor, principalOf } from '../../http/request-context.ts';
import { requireRole, requireUser } from '../auth/authenticate.ts';
import type { AccountActor, AccountService } from './account-service.ts';

function actorOf(req: Request): AccountActor {
  const p = principalOf(req);
  return {
    tenantId: p.tenantId,
    actorId: p.userId ?? p.apiKeyId,
    sessionId: p.sessionId,
    audit: auditActor(req),
  };
}

/** Account (README: GDPR export, account deletion): export (admin+), deletion and its cancel (owner). */
export function accountRoutes(deps: { account: AccountService }): Router {
  const r = Router();
  const { account } = deps;

  r.post('/v1/account/export', requireRole('admin'), async (req, res) => {
    const job = await account.requestExport(actorOf(req));
    res.status(202).location(`/v1/jobs/${job.id}`).json(job);
  });

  // Owner and a person: API keys are never owners, and the recent sign-in is a session's.
  r.post('/v1/account/delete', requireUser(), requireRole('owner'), async (req, res) => {
    res.status(202).json(await account.scheduleDeletion(actorOf(req)));
  });

  r.post('/v1/account/delete/cancel', requireRole('owner'), async (req, res) => {
    res.status(200).json(await account.cancelDeletion(actorOf(req)));
  });

  return r;
}
