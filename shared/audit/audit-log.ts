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
  const { sql, bindings } = appendAuditSql([e], 'true');
  await db.raw(sql, bindings);
}

/**
 * The append of entries as a statement for a CTE of the changes they record: each entry is
 * appended only if `keep` (SQL over the candidate row `a`, e.g. its `a.target_id`) holds.
 */
export function appendAuditSql(entries: readonly AuditEntry[], keep: string): SqlPart {
  return {
    sql: `INSERT INTO audit_log (tenant_id, actor_type, actor_id, action, target_type, target_id, request_id, ip, metadata)
          SELECT a.tenant_id, a.actor_type, a.actor_id, a.action, a.target_type, a.target_id, a.request_id, a.ip, a.metadata
          FROM jsonb_to_recordset(?::jsonb) AS a(tenant_id text, actor_type text, actor_id text, action text,
               target_type text, target_id text, request_id text, ip text, metadata jsonb)
          WHERE ${keep}`,
    bindings: [
      JSON.stringify(
        entries.map((e) => ({
          tenant_id: e.tenantId,
          actor_type: e.actorType,
          actor_id: e.actorId ?? null,
          action: e.action,
          target_type: e.targetType ?? null,
          target_id: e.targetId ?? null,
          request_id: e.requestId ?? null,
          ip: e.ip ?? null,
          metadata: e.metadata ?? {},
        })),
      ),
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
