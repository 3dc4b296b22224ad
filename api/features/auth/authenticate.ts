import type { RequestHandler } from 'express';
import type { Knex } from 'knex';
import { type Role, roleAtLeast } from '../../../shared/auth/roles.ts';
import { hashSecret } from '../../../shared/crypto/tokens.ts';
import { ForbiddenError, UnauthenticatedError } from '../../../shared/errors/http-errors.ts';
import type { Logger } from '../../../shared/logging/logger.ts';
import type { ApiKeyStore } from '../api-keys/api-key-store.ts';
import type { AuthCaches } from './auth-cache.ts';
import type { AuthStore } from './auth-store.ts';
import type { JwtCodec } from './jwt.ts';

export const API_KEY_PREFIX = 'rm_live_';

// `last_used_at` is written at most once a minute per key or session (the stores' SQL says so
// too): remembering the last write here saves the UPDATE's round trip on every other request.
const TOUCH_EVERY_MS = 60_000;

/**
 * Resolves `Authorization: Bearer <JWT | API key>` to a principal. A JWT alone is not enough:
 * its session must still be live and the user still a member, so logout, removal and role
 * changes take effect on the next request. Keys and sessions come from the auth cache, which
 * serves them only while the tenant's generation is unchanged (auth-cache.ts): every change that
 * revokes access bumps it, on every replica at once.
 */
export function authenticate(deps: {
  db: Knex;
  jwt: JwtCodec;
  authStore: AuthStore;
  apiKeyStore: ApiKeyStore;
  authCache: AuthCaches;
  logger: Logger;
}): RequestHandler {
  const touched = new Map<string, number>();
  const due = (id: string) => {
    const now = Date.now();
    if (now - (touched.get(id) ?? 0) < TOUCH_EVERY_MS) return false;
    if (touched.size > 100_000) touched.clear();
    touched.set(id, now);
    return true;
  };
  return async (req, _res, next) => {
    const header = req.get('authorization') ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match?.[1]) throw new UnauthenticatedError('Send Authorization: Bearer <access token or API key>');
    const credential = match[1];

    if (credential.startsWith(API_KEY_PREFIX)) {
      const keyHash = hashSecret(credential);
      const hit = await deps.authCache.apiKeys.get(
        keyHash,
        'unknown',
        async () => (await deps.apiKeyStore.findByHash(deps.db, keyHash)) ?? null,
      );
      if (!hit) throw new UnauthenticatedError('Invalid API key');
      const key = hit.value;
      req.principal = {
        type: 'api_key',
        tenantId: key.tenant_id,
        role: key.role,
        userId: null,
        apiKeyId: key.id,
        sessionId: null,
        generation: hit.gen,
      };
      if (due(key.id))
        deps.apiKeyStore
          .touch(deps.db, key.id)
          .catch((err: unknown) => deps.logger.warn({ err }, 'api key touch failed'));
      next();
      return;
    }

    const claims = await deps.jwt.verify(credential);
    if (!claims) throw new UnauthenticatedError('Invalid or expired access token');
    // The token names its tenant, so the generation is read before the session is.
    const hit = await deps.authCache.sessions.get(
      claims.sid,
      await deps.authCache.generation(claims.tid),
      () => deps.authStore.liveSession(deps.db, claims.sid),
    );
    const session = hit?.value;
    if (
      !hit ||
      !session ||
      session.user_id !== claims.sub ||
      session.tenant_id !== claims.tid ||
      session.expires_at.getTime() <= Date.now()
    ) {
      throw new UnauthenticatedError('Session has ended');
    }
    req.principal = {
      type: 'user',
      tenantId: session.tenant_id,
      role: session.role,
      userId: session.user_id,
      apiKeyId: null,
      sessionId: session.id,
      generation: hit.gen,
    };
    if (due(session.id))
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
