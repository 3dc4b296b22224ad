import express, { type Request, type RequestHandler, type Response, Router } from 'express';
import { parseInput } from '../../shared/validation/parse.ts';
import { requireRole, requireUser } from '../features/auth/authenticate.ts';
import type { Operation } from './operation.ts';

export interface MountDeps {
  /** Resolves the bearer credential to `req.principal` (401 when missing or dead). */
  authenticate: RequestHandler;
  /** Per-principal rate limits, after authentication. */
  rateLimit: RequestHandler;
}

const JSON_LIMIT = '1mb';

function bodyParsers(op: Operation): RequestHandler[] {
  switch (op.bodyEncoding ?? 'json') {
    case 'raw':
      return [express.raw({ type: () => true, limit: JSON_LIMIT })];
    case 'json-or-form':
      return [
        express.json({ limit: JSON_LIMIT, strict: true }),
        express.urlencoded({ extended: false, limit: '4kb' }),
      ];
    default:
      return [express.json({ limit: JSON_LIMIT, strict: true })];
  }
}

function authChain(op: Operation, deps: MountDeps): RequestHandler[] {
  if (op.auth === 'bearer') return [deps.authenticate, deps.rateLimit, requireRole(op.role ?? 'viewer')];
  if (op.auth === 'user')
    return [deps.authenticate, deps.rateLimit, requireUser(), requireRole(op.role ?? 'viewer')];
  return [];
}

/** Header values by their declared names (lookups are case-insensitive). */
function declaredHeaders(op: Operation, req: Request): Record<string, string | undefined> {
  const shape = (op.headers as { shape?: Record<string, unknown> } | undefined)?.shape ?? {};
  return Object.fromEntries(Object.keys(shape).map((name) => [name, req.get(name)]));
}

/**
 * The one place requests are validated: params, query, headers and (unless raw) body, each
 * against the operation's schema. Failures are ValidationErrors → 400 problem+json through the
 * error handler, `errors[].path` naming the field (`/scenes/0/text`, `/limit`, `/headers/Idempotency-Key`).
 */
function validate(op: Operation, req: Request) {
  return {
    params: op.params ? parseInput(op.params, req.params, 400, '/params') : undefined,
    query: op.query ? parseInput(op.query, req.query) : undefined,
    headers: op.headers ? parseInput(op.headers, declaredHeaders(op, req), 400, '/headers') : undefined,
    body: op.body && op.bodyEncoding !== 'raw' ? parseInput(op.body, req.body ?? {}) : undefined,
  };
}

/** Mounts every operation on one router: body parser → credentials → rate limit → role → validation → handler. */
export function mountOperations(operations: readonly Operation[], deps: MountDeps): Router {
  const r = Router();
  for (const op of operations) {
    const run: RequestHandler = async (req: Request, res: Response) => {
      await op.handler(validate(op, req), req, res);
    };
    r[op.method](op.path, ...bodyParsers(op), ...authChain(op, deps), run);
  }
  return r;
}
