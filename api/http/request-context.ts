import type { Request } from 'express';
import type { AuditEntry } from '../../shared/audit/audit-log.ts';
import type { Role } from '../../shared/auth/roles.ts';

/** Who is calling, on behalf of which tenant. Role is read from the database on every request. */
export interface Principal {
  type: 'user' | 'api_key';
  tenantId: string;
  role: Role;
  userId: string | null;
  apiKeyId: string | null;
  sessionId: string | null;
  /**
   * The tenant generation this request was authorized at (tenant-generation.ts); later reads of
   * the tenant's cached state in the same request are valid at it. undefined: Redis could not
   * say, so nothing is served from cache.
   */
  generation?: string | null;
}

declare global {
  namespace Express {
    interface Request {
      id: string;
      principal?: Principal;
    }
  }
}

export function principalOf(req: Request): Principal {
  if (!req.principal) throw new Error('route mounted without authenticate()');
  return req.principal;
}

/** The audit fields every state-changing call records: actor, request id, client IP. */
export function auditActor(
  req: Request,
): Pick<AuditEntry, 'actorType' | 'actorId' | 'requestId' | 'ip' | 'tenantId'> {
  const p = req.principal;
  return {
    tenantId: p?.tenantId ?? null,
    actorType: p ? p.type : 'system',
    actorId: p ? (p.userId ?? p.apiKeyId) : null,
    requestId: req.id,
    ip: req.ip ?? null,
  };
}
