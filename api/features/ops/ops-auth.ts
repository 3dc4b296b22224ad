import type { RequestHandler } from 'express';
import { safeEqual } from '../../../shared/crypto/tokens.ts';

/**
 * HTTP Basic auth for operators (user `ops`, password OPS_TOKEN): a browser prompts for it,
 * and it is independent of tenants — operator pages see every tenant.
 */
export function opsBasicAuth(token: string, what: string): RequestHandler {
  const expected = `Basic ${Buffer.from(`ops:${token}`).toString('base64')}`;
  return (req, res, next) => {
    if (safeEqual(req.get('authorization') ?? '', expected)) {
      next();
      return;
    }
    res.setHeader('WWW-Authenticate', 'Basic realm="rendermill-ops", charset="UTF-8"');
    res
      .status(401)
      .type('application/problem+json')
      .json({
        type: 'https://docs.rendermill.dev/errors/unauthenticated',
        title: 'Unauthenticated',
        status: 401,
        code: 'unauthenticated',
        detail: `${what} needs the operator credentials`,
        request_id: req.id,
      });
  };
}
