import type { RequestHandler } from 'express';
import type { Knex } from 'knex';
import { type Role, roleAtLeast } from '../../../shared/auth/roles.ts';
import { hashSecret } from '../../../shared/crypto/tokens.ts';
import { ForbiddenError, UnauthenticatedError } from '../../../shared/errors/http-errors.ts';
import type { Logger } from '../../../shared/logging/logger.ts';
import type { ApiKeyStore } from '../api-keys/api-key-store.ts';
import type { AuthStore } from './auth-store.ts';
import type { JwtCodec } from './jwt.ts';

export const API_KEY_PREFIX = 'rm_live_';

/**
 * Resolves `Authorization: Bearer <JWT | API key>` to a principal. A JWT alone is not enough:
 * its session must still be live and the user still a member, so logout, removal and role
 * changes take effect on the next request.
 */
export function authenticate(deps: {
  db: Knex;
  jwt: JwtCodec;
  authStore: AuthStore;
  apiKeyStore: ApiKeyStore;
  logger: Logger;
}): RequestHandler {
  return async (req, _res, next) => {
    const header = req.get('authorization') ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match?.[1]) throw new UnauthenticatedError('Send Authorization: Bearer <access token or API key>');
    const credential = match[1];

    if (credential.startsWith(API_KEY_PREFIX)) {
      const key = await deps.apiKeyStore.findByHash(deps.db, hashSecret(credential));
      if (!key) throw new UnauthenticatedError('Invalid API key');
      req.principal = {
        type: 'api_key',
        tenantId: key.tenant_id,
        role: key.role,
        userId: null,
        apiKeyId: key.id,
        sessionId: null,
      };
      deps.apiKeyStore
        .touch(deps.db, key.id)
        .catch((err: unknown) => deps.logger.warn({ err }, 'api key touch failed'));
      next();
      return;
    }

    const claims = await deps.jwt.verify(credential);
    if (!claims) throw new UnauthenticatedError('Invalid or expired access token');
    const session = await deps.authStore.liveSession(deps.db, claims.sid);
    if (!session || session.user_id !== claims.sub || session.tenant_id !== claims.tid) {
      throw new UnauthenticatedError('Session has ended');
    }
    req.principal = {
      type: 'user',
      tenantId: session.tenant_id,
      role: session.role,
      userId: session.user_id,
      apiKeyId: null,
      sessionId: session.id,
    };
    deps.authStore
      .touchSession(deps.db, session.id)
      .catch((err: unknown) => deps.logger.warn({ err }, 'session touch failed'));
    next();
  };
}

/** Role gate: owner > admin > member > viewer. */
export function requireRole(min: Role): RequestHandler {
  return (req, _res, next) => {
    const p = req.principal;
    if (!p) throw new UnauthenticatedError();
    if (!roleAtLeast(p.role, min))
      throw new ForbiddenError(`This action needs the ${min} role or above (you are ${p.role})`);
    next();
  };
}

/** Routes that act as a person (sessions, logout-all) refuse API keys. */
export function requireUser(): RequestHandler {
  return (req, _res, next) => {
    if (req.principal?.type !== 'user')
      throw new ForbiddenError('This action needs a user session, not an API key');
    next();
  };
}
