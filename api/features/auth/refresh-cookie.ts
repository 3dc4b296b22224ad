import { parseCookie } from 'cookie';
import type { Request, Response } from 'express';
import { ForbiddenError } from '../../../shared/errors/http-errors.ts';

/** Name of the browser session's refresh-token cookie. */
export const REFRESH_COOKIE = 'rm_refresh';
/** The cookie is only ever sent to the refresh endpoint (rotate with POST, sign out with DELETE). */
export const REFRESH_COOKIE_PATH = '/v1/auth/refresh';
/**
 * The custom header a browser client sends with cookie-authenticated calls. A cross-site page
 * cannot set it without a CORS preflight, which this API never grants.
 */
export const CSRF_HEADER = 'X-Rendermill-Csrf';

/**
 * The browser half of sign-in: the refresh token lives in an `HttpOnly; SameSite=Strict` cookie
 * scoped to {@link REFRESH_COOKIE_PATH} (`Secure` when PUBLIC_URL is https), never in script reach.
 * Requests that the cookie authenticates must also carry {@link CSRF_HEADER} or an `Origin` equal to
 * PUBLIC_URL's origin (CSRF defence in depth on top of SameSite).
 */
export function createRefreshCookie(opts: { publicUrl: string; ttlSeconds: number }) {
  const publicOrigin = new URL(opts.publicUrl).origin;
  const secure = publicOrigin.startsWith('https:');
  const attributes = { httpOnly: true, secure, sameSite: 'strict' as const, path: REFRESH_COOKIE_PATH };

  return {
    set(res: Response, refreshToken: string): void {
      res.cookie(REFRESH_COOKIE, refreshToken, { ...attributes, maxAge: opts.ttlSeconds * 1000 });
    },
    clear(res: Response): void {
      res.clearCookie(REFRESH_COOKIE, attributes);
    },
    read(req: Request): string | undefined {
      const header = req.get('cookie');
      return header ? parseCookie(header)[REFRESH_COOKIE] : undefined;
    },
    /** Throws 403 unless the request carries the custom header or comes from our own origin. */
    assertNotCrossSite(req: Request): void {
      if (req.get(CSRF_HEADER) === '1' || req.get('origin') === publicOrigin) return;
      throw new ForbiddenError(
        `Cookie sessions need the ${CSRF_HEADER}: 1 header or an Origin of ${publicOrigin}`,
      );
    },
  };
}

export type RefreshCookie = ReturnType<typeof createRefreshCookie>;
