import type { Knex } from 'knex';
import type { TableRow } from '../../../shared/db/tables.ts';
import { newId } from '../../../shared/ids/ids.ts';

/** Proof of an erasure, kept afterwards: no personal data, no tenant id (only its pseudonym). */
export type DeletionReceipt = TableRow<'deletion_receipts'>;

/** Receipt SQL. One receipt per deletion job: every write is keyed by the job id, so re-runs converge. */
export function createReceiptStore(db: Knex) {
  return {
    async find(db2: Knex | Knex.Transaction, jobId: string): Promise<DeletionReceipt | undefined> {
      return db2('deletion_receipts').where({ job_id: jobId }).first();
    },

    /**
     * The first run's census wins: a resumed deletion counts what is left, which is less than
     * what the tenant held, so later counts never overwrite it.
     */
    async open(
      trx: Knex.Transaction,
      r: { jobId: string; tenantRef: string; counts: Record<string, number> },
    ): Promise<DeletionReceipt> {
      await trx('deletion_receipts')
        .insert({
          id: newId('del'),
          job_id: r.jobId,
          tenant_ref: r.tenantRef,
          counts: JSON.stringify(r.counts),
        })
        .onConflict('job_id')
        .ignore();
      const receipt = await trx('deletion_receipts').where({ job_id: r.jobId }).first();
      if (!receipt) throw new Error(`receipt of ${r.jobId} vanished inside its transaction`);
      return receipt;
    },

    async complete(db2: Knex | Knex.Transaction, jobId: string): Promise<void> {
      await db2('deletion_receipts')
        .update({ completed_at: db2.fn.now() })
        .where({ job_id: jobId })
        .whereNull('completed_at');
    },

    async markNotified(jobId: string): Promise<void> {
      await db('deletion_receipts').update({ notified_at: db.fn.now() }).where({ job_id: jobId });
    },
  };
}

const LABELS: Record<string, string> = {
  tenant: 'workspace',
  members: 'memberships',
  users: 'user accounts (people in no other workspace)',
  sessions: 'sign-in sessions',
  refresh_tokens: 'refresh tokens',
  api_keys: 'API keys',
  invites: 'invitations',
  sign_in_links: 'pending sign-in links',
  jobs: 'jobs',
  job_steps: 'job steps',
  idempotency_keys: 'idempotency keys',
  webhook_deliveries: 'webhook deliveries',
  audit_log: 'audit log entries',
  storage_objects: 'stored files (outputs, exports, cache)',
  storage_bytes: 'bytes of stored files',
  usage_events_pseudonymised: 'usage ledger rows kept for invoices, under a pseudonym',
};

/** The completion mail: what was erased, per kind, and what was kept. */
export function receiptMail(r: DeletionReceipt): { subject: string; text: string } {
  const lines = Object.entries(r.counts)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, n]) => `  ${LABELS[k] ?? k}: ${n}`);
  return {
    subject: 'Your Rendermill account has been deleted',
    text:
      `Your Rendermill workspace and everything it held has been deleted.\n\n` +
      `Deletion receipt ${r.id} (workspace reference ${r.tenant_ref}), started ${r.started_at.toISOString()}:\n` +
      `${lines.join('\n')}\n\n` +
      'Kept: the usage ledger needed for invoices, under the workspace reference above instead of your ' +
      'workspace id, and this receipt, which holds no personal data. Nothing else remains.\n' +
      'Signing in again with this address starts a new, empty workspace.\n',
  };
}
