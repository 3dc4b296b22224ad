import type { Knex } from 'knex';
import { AUDIT_COLUMNS } from '../../../shared/audit/audit-log.ts';
import type { TableRow } from '../../../shared/db/tables.ts';

export type AuditRow = Pick<TableRow<'audit_log'>, (typeof AUDIT_COLUMNS)[number]>;

export interface AuditFilter {
  /** Exact action, or a family with a trailing `.*` (`member.*`). */
  action?: string;
  actorId?: string;
  /** Inclusive lower bound. */
  from?: Date;
  /** Exclusive upper bound. */
  to?: Date;
  /** Entries older than this id (the cursor). */
  beforeId?: number;
  limit: number;
}

/** Reads one tenant's audit log, newest first. The `(tenant_id, id)` index serves every page. */
export function createAuditLogStore() {
  return {
    async list(db: Knex, tenantId: string, f: AuditFilter): Promise<AuditRow[]> {
      const q = db('audit_log')
        .select(...AUDIT_COLUMNS)
        .where({ tenant_id: tenantId })
        .orderBy('id', 'desc')
        .limit(f.limit + 1);
      if (f.action?.endsWith('.*')) {
        // LIKE with the family prefix; escape LIKE's own wildcards in what the client sent.
        const prefix = f.action.slice(0, -1).replace(/[\\%_]/g, (c) => `\\${c}`);
        q.whereRaw(`action LIKE ? ESCAPE '\\'`, [`${prefix}%`]);
      } else if (f.action) {
        q.where({ action: f.action });
      }
      if (f.actorId) q.where({ actor_id: f.actorId });
      if (f.from) q.where('created_at', '>=', f.from);
      if (f.to) q.where('created_at', '<', f.to);
      if (f.beforeId) q.where('id', '<', f.beforeId);
      return q;
    },
  };
}

export type AuditLogStore = ReturnType<typeof createAuditLogStore>;
