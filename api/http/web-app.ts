import { existsSync } from 'node:fs';
import path from 'node:path';
import express, { type RequestHandler, Router } from 'express';
import type { Logger } from '../../shared/logging/logger.ts';

/**
 * Paths the dashboard's client-side routes must never shadow: the API, its documents and the
 * operator endpoints. An unknown path under them stays a problem+json 401/404.
 */
const RESERVED = [
  /^\/v1(\/|$)/,
  /^\/admin(\/|$)/,
  /^\/docs(\/|$)/,
  /^\/(openapi\.json|healthz|readyz|metrics)$/,
];

/** The page the sign-in emails link to (the dashboard renders its Sign in button there). */
export const SIGN_IN_LINK_PATH = '/sign-in/verify';

/**
 * Serves the built dashboard (`web/dist`, WEB_DIST_DIR) at `/`: hashed assets cached for a year,
 * and `index.html` for any other GET that asks for HTML and is not reserved, so client routes
 * (`/renders/job_…`) survive a reload. Mounted after every API route. Without a build the API runs
 * alone and the sign-in link falls back to the API's own page.
 */
export function webApp(deps: { dir: string; logger: Logger }): Router {
  const r = Router();
  const dir = path.resolve(deps.dir);
  const index = path.join(dir, 'index.html');
  if (!existsSync(index)) {
    deps.logger.info({ dir }, 'dashboard not built (npm run build:web): serving the API only');
    r.get(SIGN_IN_LINK_PATH, (req, res) => {
      const query = req.originalUrl.slice(req.path.length);
      res.redirect(302, `/v1/auth/verify${query}`);
    });
    return r;
  }

  r.use(
    express.static(dir, {
      index: false,
      redirect: false,
      setHeaders(res, file) {
        // Vite names assets by content hash: a new build means new names.
        const asset = file.startsWith(path.join(dir, 'assets') + path.sep);
        res.setHeader('Cache-Control', asset ? 'public, max-age=31536000, immutable' : 'no-cache');
      },
    }),
  );

  const fallback: RequestHandler = (req, res, next) => {
    const wantsPage =
      (req.method === 'GET' || req.method === 'HEAD') &&
      !RESERVED.some((re) => re.test(req.path)) &&
      path.posix.extname(req.path) === '' &&
      req.accepts(['html', 'json']) === 'html';
    if (!wantsPage) {
      next();
      return;
    }
    res.sendFile(index, { headers: { 'Cache-Control': 'no-cache' } }, (err) => {
      if (err && !res.headersSent) next(err);
    });
  };
  r.use(fallback);
  return r;
}
