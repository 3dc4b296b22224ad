import express, { Router } from 'express';
import { z } from 'zod';
import { parseInput } from '../../../shared/validation/parse.ts';
import type { RateLimits } from '../../http/rate-limit.ts';
import { principalOf } from '../../http/request-context.ts';
import type { AuthService, ClientInfo } from './auth-service.ts';
import { requireUser } from './authenticate.ts';
import { verifyPage } from './verify-page.ts';

const emailBody = z.object({
  email: z.string().trim().toLowerCase().email('must be a valid email address').max(254),
});
const tokenBody = z.object({ token: z.string().min(16).max(512), tenant_id: z.string().max(64).optional() });
const refreshBody = z.object({ refresh_token: z.string().min(16).max(512) });
const verifyQuery = z.object({ token: z.string().min(16).max(512) });

function clientInfo(req: express.Request): ClientInfo {
  return { ip: req.ip ?? null, userAgent: req.get('user-agent') ?? null, requestId: req.id };
}

/** Public sign-in routes (no bearer token needed). */
export function authPublicRoutes(deps: { auth: AuthService; limits: RateLimits }): Router {
  const r = Router();

  r.post('/v1/auth/magic-link', async (req, res) => {
    const { email } = parseInput(emailBody, req.body);
    await deps.limits.magicLink(email, req.ip ?? 'unknown');
    deps.auth.sendLink(email);
    res.status(202).json({ ok: true });
  });

  r.get('/v1/auth/verify', (req, res) => {
    const { token } = parseInput(verifyQuery, req.query);
    res.type('html').setHeader('Cache-Control', 'no-store').send(verifyPage(token));
  });

  // The page's form posts urlencoded; API clients post JSON.
  r.post('/v1/auth/verify', express.urlencoded({ extended: false, limit: '4kb' }), async (req, res) => {
    const { token, tenant_id } = parseInput(tokenBody, req.body);
    res.setHeader('Cache-Control', 'no-store');
    res.json(await deps.auth.verify(token, clientInfo(req), tenant_id));
  });

  r.post('/v1/auth/refresh', async (req, res) => {
    const { refresh_token } = parseInput(refreshBody, req.body);
    res.setHeader('Cache-Control', 'no-store');
    res.json(await deps.auth.refresh(refresh_token, clientInfo(req)));
  });

  r.post('/v1/auth/logout', async (req, res) => {
    const { refresh_token } = parseInput(refreshBody, req.body);
    await deps.auth.logout(refresh_token, clientInfo(req));
    res.status(204).end();
  });

  return r;
}

/** Routes that need a signed-in user. */
export function authSessionRoutes(deps: { auth: AuthService }): Router {
  const r = Router();
  // An API key has no sessions to end: a silent 204 would tell its caller something happened.
  r.post('/v1/auth/logout-all', requireUser(), async (req, res) => {
    const p = principalOf(req);
    await deps.auth.logoutAll(p.userId!, p.tenantId, clientInfo(req));
    res.status(204).end();
  });
  return r;
}
