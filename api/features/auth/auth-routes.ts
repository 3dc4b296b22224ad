import type express from 'express';
import { z } from 'zod/v4';
import { UnauthenticatedError } from '../../../shared/errors/http-errors.ts';
import { roleEnum } from '../../http/contract-schemas.ts';
import { defineOperation, type Operation } from '../../http/operation.ts';
import type { RateLimits } from '../../http/rate-limit.ts';
import { principalOf } from '../../http/request-context.ts';
import type { AuthService, ClientInfo } from './auth-service.ts';
import type { RefreshCookie } from './refresh-cookie.ts';
import { verifyPage } from './verify-page.ts';

// Trimmed and lower-cased before the format check (zod 4 runs string checks in order).
export const emailField = z.string().trim().toLowerCase().max(254).email('must be a valid email address');
const linkToken = z.string().min(16).max(512);
const refreshBody = z.object({ refresh_token: z.string().min(16).max(512) });

const tokenPair = {
  access_token: z.string(),
  refresh_token: z.string(),
  token_type: z.literal('Bearer'),
  expires_in: z.number().int(),
};
const { refresh_token: _inCookie, ...accessOnly } = tokenPair;
const signInFields = {
  user: z.object({ id: z.string(), email: z.string() }),
  tenant: z.object({ id: z.string(), name: z.string(), plan: z.string() }),
  role: roleEnum,
};
/** With `session: "cookie"` the refresh token is an HttpOnly cookie, not part of the answer. */
const signIn = z.union([
  z.object({ ...tokenPair, ...signInFields }),
  z.object({ ...accessOnly, ...signInFields }),
]);

function clientInfo(req: express.Request): ClientInfo {
  return { ip: req.ip ?? null, userAgent: req.get('user-agent') ?? null, requestId: req.id };
}

/** Sign-in: magic links, token pairs, logout. */
export function authRoutes(deps: {
  auth: AuthService;
  limits: RateLimits;
  cookie: RefreshCookie;
}): Operation[] {
  const { auth, cookie } = deps;
  return [
    defineOperation({
      operationId: 'sendMagicLink',
      method: 'post',
      path: '/v1/auth/magic-link',
      tag: 'auth',
      summary: 'Email a sign-in link',
      description: '202 whether or not the address is known; 429 past the per-address and per-IP limits.',
      auth: 'public',
      body: z.object({ email: emailField }),
      bodyExample: { email: 'you@example.com' },
      errors: [429, 503],
      responses: { 202: { description: 'Sent (or silently not)', body: z.object({ ok: z.literal(true) }) } },
      handler: async ({ body }, req, res) => {
        await deps.limits.magicLink(body.email, req.ip ?? 'unknown');
        auth.sendLink(body.email);
        res.status(202).json({ ok: true });
      },
    }),
    defineOperation({
      operationId: 'showVerifyPage',
      method: 'get',
      path: '/v1/auth/verify',
      tag: 'auth',
      summary: 'The page a sign-in link opens (its button POSTs the token; a GET never consumes it)',
      auth: 'public',
      query: z.object({ token: linkToken }),
      queryExample: { token: 'WheES1bQw2o8a5yQ7KxJ0gDkq3' },
      responses: { 200: { description: 'HTML page', contentType: 'text/html', body: z.string() } },
      handler: ({ query }, _req, res) => {
        res.type('html').setHeader('Cache-Control', 'no-store').send(verifyPage(query.token));
      },
    }),
    defineOperation({
      operationId: 'verifySignIn',
      method: 'post',
      path: '/v1/auth/verify',
      tag: 'auth',
      summary: 'Exchange a sign-in or invite token for a token pair',
      description:
        'Single use, 15 minutes (invites: 7 days). `tenant_id` picks the tenant the session acts for.',
      auth: 'public',
      bodyEncoding: 'json-or-form',
      body: z.object({
        token: linkToken,
        tenant_id: z.string().max(64).optional(),
        /** `cookie`: the refresh token is set as an HttpOnly cookie instead of being answered (browsers). */
        session: z.enum(['tokens', 'cookie']).default('tokens'),
      }),
      bodyExample: { token: 'WheES1bQw2o8a5yQ7KxJ0gDkq3' },
      errors: [401, 403, 503],
      responses: { 200: { description: 'Signed in', body: signIn } },
      handler: async ({ body }, req, res) => {
        // A cookie session is checked before the token is spent: a forged cross-site post burns nothing.
        if (body.session === 'cookie') cookie.assertNotCrossSite(req);
        res.setHeader('Cache-Control', 'no-store');
        const signedIn = await auth.verify(body.token, clientInfo(req), body.tenant_id);
        if (body.session === 'tokens') {
          res.json(signedIn);
          return;
        }
        const { refresh_token, ...rest } = signedIn;
        cookie.set(res, refresh_token);
        res.json(rest);
      },
    }),
    defineOperation({
      operationId: 'refreshTokens',
      method: 'post',
      path: '/v1/auth/refresh',
      tag: 'auth',
      summary: 'Trade a refresh token for a new pair (each works once)',
      description:
        'Presenting a spent refresh token again revokes the whole session. Without `refresh_token` in the body, the HttpOnly refresh cookie is the credential (browsers) and is rotated.',
      auth: 'public',
      body: z.object({ refresh_token: z.string().min(16).max(512).optional() }),
      bodyExample: { refresh_token: 'rt_JH6tq0x1mUQ4c1y3nS9V' },
      errors: [401, 403, 503],
      responses: {
        200: {
          description: 'A new pair (from a cookie: the access token; the new refresh token is the cookie)',
          body: z.union([z.object(tokenPair), z.object(accessOnly)]),
        },
      },
      handler: async ({ body }, req, res) => {
        res.setHeader('Cache-Control', 'no-store');
        if (body.refresh_token) {
          res.json(await auth.refresh(body.refresh_token, clientInfo(req)));
          return;
        }
        cookie.assertNotCrossSite(req);
        const fromCookie = cookie.read(req);
        if (!fromCookie) throw new UnauthenticatedError('No session cookie: sign in again');
        try {
          const { refresh_token: next, ...rest } = await auth.refresh(fromCookie, clientInfo(req));
          cookie.set(res, next);
          res.json(rest);
        } catch (err) {
          // A dead cookie is of no use to the browser: drop it with the 401.
          cookie.clear(res);
          throw err;
        }
      },
    }),
    defineOperation({
      operationId: 'endCookieSession',
      method: 'delete',
      path: '/v1/auth/refresh',
      tag: 'auth',
      summary: 'Sign a browser session out (its refresh cookie is the proof)',
      auth: 'public',
      errors: [403, 503],
      responses: { 204: { description: 'Signed out; the cookie is cleared' } },
      handler: async (_input, req, res) => {
        cookie.assertNotCrossSite(req);
        const fromCookie = cookie.read(req);
        if (fromCookie) await auth.logout(fromCookie, clientInfo(req));
        cookie.clear(res);
        res.status(204).end();
      },
    }),
    defineOperation({
      operationId: 'logout',
      method: 'post',
      path: '/v1/auth/logout',
      tag: 'auth',
      summary: 'End this session',
      auth: 'public',
      body: refreshBody,
      bodyExample: { refresh_token: 'rt_JH6tq0x1mUQ4c1y3nS9V' },
      errors: [503],
      responses: { 204: { description: 'Ended' } },
      handler: async ({ body }, req, res) => {
        await auth.logout(body.refresh_token, clientInfo(req));
        res.status(204).end();
      },
    }),
    defineOperation({
      operationId: 'logoutAll',
      method: 'post',
      path: '/v1/auth/logout-all',
      tag: 'auth',
      summary: 'End every session of the signed-in user',
      description: 'An API key has no sessions to end: 403.',
      auth: 'user',
      responses: { 204: { description: 'Ended' } },
      handler: async (_input, req, res) => {
        const p = principalOf(req);
        await auth.logoutAll(p.userId!, p.tenantId, clientInfo(req));
        res.status(204).end();
      },
    }),
  ];
}
