import type { Knex } from 'knex';

export type ActorType = 'user' | 'api_key' | 'system' | 'stripe';

export interface AuditEntry {
  tenantId: string | null;
  actorType: ActorType;
  actorId?: string | null;
  action: string;
  targetType?: string | null;
  targetId?: string | null;
  requestId?: string | null;
  ip?: string | null;
  metadata?: Record<string, unknown>;
}

/** Appends one audit entry; pass the transaction of the change it records so both land or neither. */
export async function appendAudit(db: Knex | Knex.Transaction, e: AuditEntry): Promise<void> {
  await db('audit_log').insert({
    tenant_id: e.tenantId,
    actor_type: e.actorType,
    actor_id: e.actorId ?? null,
    action: e.action,
    target_type: e.targetType ?? null,
    target_id: e.targetId ?? null,
    request_id: e.requestId ?? null,
    ip: e.ip ?? null,
    metadata: JSON.stringify(e.metadata ?? {}),
  });
}

/** The columns a tenant may see of its audit log (the API and the GDPR export read exactly these). */
export const AUDIT_COLUMNS = [
  'id',
  'actor_type',
  'actor_id',
  'action',
  'target_type',
  'target_id',
  'request_id',
  'ip',
  'metadata',
  'created_at',
] as const;
