import type { Knex } from 'knex';
import { ownerEmails } from '../../../shared/account/owner-emails.ts';

type Db = Knex | Knex.Transaction;

/** Account lifecycle SQL: the tenant's deletion marker, its owners, the caller's sign-in time (jobs: the job repository). */
export function createAccountStore() {
  return {
    /** Serialises export and deletion requests of one tenant (no two open deletions, no export pile-up). */
    async lockTenant(
      trx: Knex.Transaction,
      tenantId: string,
    ): Promise<{ name: string; deletion_scheduled_for: Date | null }> {
      const row = await trx('tenants')
        .select('name', 'deletion_scheduled_for')
        .where({ id: tenantId })
        .forUpdate()
        .first();
      if (!row) throw new Error(`tenant ${tenantId} vanished under a live session`);
      return row;
    },

    async setDeletionScheduledFor(trx: Knex.Transaction, tenantId: string, at: Date | null): Promise<void> {
      await trx('tenants').update({ deletion_scheduled_for: at }).where({ id: tenantId });
    },

    /** When the session's user last proved they hold the mailbox (a magic link), not when it was refreshed. */
    async sessionAuthenticatedAt(db: Db, sessionId: string): Promise<Date | null> {
      const row = await db('sessions').select('authenticated_at').where({ id: sessionId }).first();
      return row?.authenticated_at ?? null;
    },

    /** The workspace as the Account page shows it: its name and a pending deletion's date. */
    async tenant(
      db: Db,
      tenantId: string,
    ): Promise<{ id: string; name: string; deletion_scheduled_for: Date | null }> {
      const row = await db('tenants')
        .select('id', 'name', 'deletion_scheduled_for')
        .where({ id: tenantId })
        .first();
      if (!row) throw new Error(`tenant ${tenantId} vanished under a live session`);
      return row;
    },

    async rename(trx: Knex.Transaction, tenantId: string, name: string): Promise<void> {
      await trx('tenants').update({ name }).where({ id: tenantId });
    },

    ownerEmails: (db: Db, tenantId: string): Promise<string[]> => ownerEmails(db, tenantId),
  };
}

export type AccountStore = ReturnType<typeof createAccountStore>;
