import type { Knex } from 'knex';
import type { Role } from '../../../shared/auth/roles.ts';
import type { TableRow } from '../../../shared/db/tables.ts';

export type TokenRow = Pick<
  TableRow<'magic_link_tokens'>,
  'id' | 'email' | 'purpose' | 'tenant_id' | 'role' | 'invited_by'
>;

export interface SessionView {
  id: string;
  user_id: string;
  tenant_id: string;
  role: Role;
  /** The session ends then (authentication caches check it on every use). */
  expires_at: Date;
}

/** SQL of sign-in: tokens, users, tenants, memberships, sessions and refresh tokens. */
export function createAuthStore() {
  return {
    async insertToken(
      db: Knex,
      row: { id: string; token_hash: string; email: string; expires_at: Date } & Partial<TokenRow>,
    ): Promise<void> {
      await db('magic_link_tokens').insert(row);
    },

    /** Single use: the one UPDATE that consumes a live token wins; a second caller gets nothing. */
    async consumeToken(trx: Knex.Transaction, tokenHash: string): Promise<TokenRow | null> {
      const [row] = await trx('magic_link_tokens')
        .update({ consumed_at: trx.fn.now() })
        .where({ token_hash: tokenHash })
        .whereNull('consumed_at')
        .where('expires_at', '>', trx.fn.now())
        .returning(['id', 'email', 'purpose', 'tenant_id', 'role', 'invited_by']);
      return row ?? null;
    },

    async findUserByEmail(db: Knex, email: string): Promise<{ id: string; email: string } | null> {
      return (await db('users').select('id', 'email').where({ email }).first()) ?? null;
    },

    async insertUser(
      trx: Knex.Transaction,
      id: string,
      email: string,
    ): Promise<{ id: string; email: string }> {
      // Two first sign-ins for one address at once: the second reads the first's row.
      await trx('users').insert({ id, email }).onConflict('email').ignore();
      const user = await trx('users').select('id', 'email').where({ email }).first();
      if (!user) throw new Error('the user row vanished inside its transaction');
      return user;
    },

    async touchUser(trx: Knex.Transaction, userId: string): Promise<void> {
      await trx('users').update({ last_sign_in_at: trx.fn.now() }).where({ id: userId });
    },

    async insertTenant(
      trx: Knex.Transaction,
      t: { id: string; name: string; webhook_secret: string },
    ): Promise<void> {
      await trx('tenants').insert(t);
    },

    async upsertMembership(
      trx: Knex.Transaction,
      tenantId: string,
      userId: string,
      role: Role,
    ): Promise<void> {
      await trx('memberships')
        .insert({ tenant_id: tenantId, user_id: userId, role })
        .onConflict(['tenant_id', 'user_id'])
        .ignore();
    },

    async memberships(db: Knex, userId: string): Promise<Array<{ tenant_id: string; role: Role }>> {
      return db('memberships')
        .select('tenant_id', 'role')
        .where({ user_id: userId })
        .orderBy('created_at', 'asc');
    },

    async tenant(
      db: Knex,
      tenantId: string,
    ): Promise<{ id: string; name: string; plan: string } | undefined> {
      return db('tenants').select('id', 'name', 'plan').where({ id: tenantId }).first();
    },

    async insertSession(
      trx: Knex.Transaction,
      s: {
        id: string;
        user_id: string;
        tenant_id: string;
        expires_at: Date;
        ip: string | null;
        user_agent: string | null;
      },
    ): Promise<void> {
      await trx('sessions').insert(s);
    },

    async insertRefreshToken(
      trx: Knex.Transaction,
      r: { id: string; session_id: string; token_hash: string; expires_at: Date },
    ): Promise<void> {
      await trx('refresh_tokens').insert(r);
    },

    /** Locks the refresh token row so two concurrent refreshes cannot both rotate it. */
    async lockRefreshToken(
      trx: Knex.Transaction,
      tokenHash: string,
    ): Promise<{ id: string; session_id: string; rotated_at: Date | null; expires_at: Date } | undefined> {
      return trx('refresh_tokens')
        .select('id', 'session_id', 'rotated_at', 'expires_at')
        .where({ token_hash: tokenHash })
        .forUpdate()
        .first();
    },

    async markRotated(trx: Knex.Transaction, id: string): Promise<void> {
      await trx('refresh_tokens').update({ rotated_at: trx.fn.now() }).where({ id });
    },

    /** A live session with the caller's current role in its tenant (null if revoked, expired or removed). */
    async liveSession(db: Knex | Knex.Transaction, sessionId: string): Promise<SessionView | null> {
      const row = await db('sessions as s')
        .join('memberships as m', function () {
          this.on('m.tenant_id', 's.tenant_id').andOn('m.user_id', 's.user_id');
        })
        .select('s.id', 's.user_id', 's.tenant_id', 'm.role', 's.expires_at')
        .where('s.id', sessionId)
        .whereNull('s.revoked_at')
        .where('s.expires_at', '>', db.fn.now())
        .first();
      return (row as SessionView | undefined) ?? null;
    },

    /** Returns the tenant of the session it ended (none: it had ended already). */
    async revokeSession(db: Knex | Knex.Transaction, sessionId: string, reason: string): Promise<string[]> {
      const rows: Array<{ tenant_id: string }> = await db('sessions')
        .update({ revoked_at: db.fn.now(), revoked_reason: reason })
        .where({ id: sessionId })
        .whereNull('revoked_at')
        .returning('tenant_id');
      return rows.map((r) => r.tenant_id);
    },

    /** Returns the tenant of each session it ended. */
    async revokeUserSessions(db: Knex | Knex.Transaction, userId: string, reason: string): Promise<string[]> {
      const rows: Array<{ tenant_id: string }> = await db('sessions')
        .update({ revoked_at: db.fn.now(), revoked_reason: reason })
        .where({ user_id: userId })
        .whereNull('revoked_at')
        .returning('tenant_id');
      return rows.map((r) => r.tenant_id);
    },

    /** Throttled: at most one write a minute per session, so auth stays one read per request. */
    async touchSession(db: Knex, sessionId: string): Promise<void> {
      await db('sessions')
        .update({ last_used_at: db.fn.now() })
        .where({ id: sessionId })
        .where('last_used_at', '<', db.raw("now() - interval '1 minute'"));
    },
  };
}

export type AuthStore = ReturnType<typeof createAuthStore>;
