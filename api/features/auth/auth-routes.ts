import express, { Router } from 'express';
import { z } from 'zod';
import { UnauthenticatedError } from '../../../shared/errors/http-errors.ts';
import { parseInput } from '../../../shared/validation/parse.ts';
import type { RateLimits } from '../../http/rate-limit.ts';
import { principalOf } from '../../http/request-context.ts';
import type { AuthService, ClientInfo } from './auth-service.ts';
import { requireUser } from './authenticate.ts';
import type { RefreshCookie } from './refresh-cookie.ts';
import { verifyPage } from './verify-page.ts';

const emailBody = z.object({
  email: z.string().trim().toLowerCase().email('must be a valid email address').max(254),
});
const tokenBody = z.object({
  token: z.string().min(16).max(512),
  tenant_id: z.string().max(64).optional(),
  /** `cookie`: the refresh token is set as an HttpOnly cookie instead of being answered (browsers). */
  session: z.enum(['tokens', 'cookie']).default('tokens'),
});
const refreshBody = z.object({ refresh_token: z.string().min(16).max(512) });
/** Without `refresh_token` in the body, the refresh cookie is the credential. */
const refreshOrCookieBody = z.object({ refresh_token: z.string().min(16).max(512).optional() });
const verifyQuery = z.object({ token: z.string().min(16).max(512) });

function clientInfo(req: express.Request): ClientInfo {
  return { ip: req.ip ?? null, userAgent: req.get('user-agent') ?? null, requestId: req.id };
}

/** Public sign-in routes (no bearer token needed). */
export function authPublicRoutes(deps: {
  auth: AuthService;
  limits: RateLimits;
  cookie: RefreshCookie;
}): Router {
  const r = Router();
  const { cookie } = deps;

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
    const { token, tenant_id, session } = parseInput(tokenBody, req.body);
    // A cookie session is checked before the token is spent: a forged cross-site post burns nothing.
    if (session === 'cookie') cookie.assertNotCrossSite(req);
    res.setHeader('Cache-Control', 'no-store');
    const signedIn = await deps.auth.verify(token, clientInfo(req), tenant_id);
    if (session === 'tokens') {
      res.json(signedIn);
      return;
    }
    const { refresh_token, ...rest } = signedIn;
    cookie.set(res, refresh_token);
    res.json(rest);
  });

  r.post('/v1/auth/refresh', async (req, res) => {
    const { refresh_token } = parseInput(refreshOrCookieBody, req.body ?? {});
    res.setHeader('Cache-Control', 'no-store');
    if (refresh_token) {
      res.json(await deps.auth.refresh(refresh_token, clientInfo(req)));
      return;
    }
    cookie.assertNotCrossSite(req);
    const fromCookie = cookie.read(req);
    if (!fromCookie) throw new UnauthenticatedError('No session cookie: sign in again');
    try {
      const { refresh_token: next, ...rest } = await deps.auth.refresh(fromCookie, clientInfo(req));
      cookie.set(res, next);
      res.json(rest);
    } catch (err) {
      // A dead cookie is of no use to the browser: drop it with the 401.
      cookie.clear(res);
      throw err;
    }
  });

  // Signs a browser session out: its refresh cookie is the proof, like the body token of /logout.
  r.delete('/v1/auth/refresh', async (req, res) => {
    cookie.assertNotCrossSite(req);
    const fromCookie = cookie.read(req);
    if (fromCookie) await deps.auth.logout(fromCookie, clientInfo(req));
    cookie.clear(res);
    res.status(204).end();
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
