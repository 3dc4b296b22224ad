import type { Knex } from 'knex';
import type { Role } from '../../../shared/auth/roles.ts';
import type { TableRow } from '../../../shared/db/tables.ts';
import { POSITION_SQL } from '../../http/keyset-cursor.ts';

type Db = Knex | Knex.Transaction;

export interface MemberRow {
  user_id: string;
  email: string;
  role: Role;
  joined_at: Date;
  /** Sort key as exact text, for the next cursor. */
  position: string;
}

export type InviteRow = Pick<
  TableRow<'magic_link_tokens'>,
  'id' | 'email' | 'invited_by' | 'created_at' | 'expires_at'
> & {
  /** Always set on an invite. */
  role: Role;
  /** Sort key as exact text, for the next cursor. */
  position: string;
};

/** Members and invites SQL. Every query is scoped by tenant: a foreign id reads as absent. */
export function createMemberStore() {
  const members = (db: Db) =>
    db('memberships as m')
      .join('users as u', 'u.id', 'm.user_id')
      .select(
        'm.user_id',
        'u.email',
        'm.role',
        'm.created_at as joined_at',
        db.raw(`${POSITION_SQL} AS position`, ['m.created_at']),
      );

  // Pending invites: unused, unexpired. A used or expired token is history, not an invite.
  const invites = (db: Db, tenantId: string) =>
    db('magic_link_tokens')
      // The raw `position` is beyond knex's inference: the row type is named here.
      .select<InviteRow[]>(
        'id',
        'email',
        'role',
        'invited_by',
        'created_at',
        'expires_at',
        db.raw(`${POSITION_SQL} AS position`, ['created_at']),
      )
      .where({ tenant_id: tenantId, purpose: 'invite' })
      .whereNull('consumed_at')
      .where('expires_at', '>', db.fn.now());

  return {
    /** Oldest member first; `limit + 1` rows tell the caller whether a next page exists. */
    async list(
      db: Db,
      tenantId: string,
      limit: number,
      after?: { at: string; id: string },
    ): Promise<MemberRow[]> {
      const q = members(db)
        .where('m.tenant_id', tenantId)
        .orderBy([{ column: 'm.created_at' }, { column: 'm.user_id' }])
        .limit(limit + 1);
      if (after) q.whereRaw('(m.created_at, m.user_id) > (?::timestamptz, ?)', [after.at, after.id]);
      return q;
    },

    async find(db: Db, tenantId: string, userId: string): Promise<MemberRow | undefined> {
      return members(db).where({ 'm.tenant_id': tenantId, 'm.user_id': userId }).first();
    },

    async findByEmail(db: Db, tenantId: string, email: string): Promise<MemberRow | undefined> {
      return members(db).where({ 'm.tenant_id': tenantId, 'u.email': email }).first();
    },

    /**
     * Serialises every membership change of one tenant (the "last owner" rule reads, then writes:
     * two owners demoting each other at once must not both succeed). Returns the tenant name.
     */
    async lockTenant(trx: Knex.Transaction, tenantId: string): Promise<{ name: string }> {
      const row = await trx('tenants').select('name').where({ id: tenantId }).forUpdate().first();
      if (!row) throw new Error(`tenant ${tenantId} vanished under a live session`);
      return row;
    },

    async countOwners(db: Db, tenantId: string): Promise<number> {
      const [row] = await db('memberships').where({ tenant_id: tenantId, role: 'owner' }).count({ n: '*' });
      return Number(row?.n ?? 0);
    },

    async setRole(db: Db, tenantId: string, userId: string, role: Role): Promise<void> {
      await db('memberships').update({ role }).where({ tenant_id: tenantId, user_id: userId });
    },

    async remove(db: Db, tenantId: string, userId: string): Promise<void> {
      await db('memberships').delete().where({ tenant_id: tenantId, user_id: userId });
    },

    /** Ends the user's sessions acting for this tenant; their sessions elsewhere live on. */
    async revokeSessions(db: Db, tenantId: string, userId: string, reason: string): Promise<number> {
      return db('sessions')
        .update({ revoked_at: db.fn.now(), revoked_reason: reason })
        .where({ tenant_id: tenantId, user_id: userId })
        .whereNull('revoked_at');
    },

    async listInvites(
      db: Db,
      tenantId: string,
      limit: number,
      after?: { at: string; id: string },
    ): Promise<InviteRow[]> {
      const q = invites(db, tenantId)
        .orderBy([{ column: 'created_at' }, { column: 'id' }])
        .limit(limit + 1);
      if (after) q.whereRaw('(created_at, id) > (?::timestamptz, ?)', [after.at, after.id]);
      return q;
    },

    async findInvite(db: Db, tenantId: string, id: string): Promise<InviteRow | undefined> {
      return invites(db, tenantId).where({ id }).first();
    },

    /** Pending invites of one address to this tenant (a new invite replaces them). */
    async pendingInviteIds(db: Db, tenantId: string, email: string): Promise<string[]> {
      const rows: Array<{ id: string }> = await invites(db, tenantId).where({ email });
      return rows.map((r) => r.id);
    },

    /** A withdrawn invite is deleted: its link then answers 401 like any unknown token. */
    async deleteInvites(db: Db, tenantId: string, ids: string[]): Promise<number> {
      if (ids.length === 0) return 0;
      return db('magic_link_tokens')
        .delete()
        .where({ tenant_id: tenantId, purpose: 'invite' })
        .whereIn('id', ids);
    },
  };
}

export type MemberStore = ReturnType<typeof createMemberStore>;
