import type { Knex } from 'knex';
import type { SqlPart } from '../db/sql-part.ts';

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
  const { sql, bindings } = appendAuditSql(e, 'true');
  await db.raw(sql, bindings);
}

/** The append as a statement for a CTE of the change it records: it appends only `when` the SQL condition holds. */
export function appendAuditSql(e: AuditEntry, when: string): SqlPart {
  return {
    sql: `INSERT INTO audit_log (tenant_id, actor_type, actor_id, action, target_type, target_id, request_id, ip, metadata)
          SELECT ?::text, ?::text, ?::text, ?::text, ?::text, ?::text, ?::text, ?::text, ?::jsonb WHERE ${when}`,
    bindings: [
      e.tenantId,
      e.actorType,
      e.actorId ?? null,
      e.action,
      e.targetType ?? null,
      e.targetId ?? null,
      e.requestId ?? null,
      e.ip ?? null,
      JSON.stringify(e.metadata ?? {}),
    ],
  };
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
