import { z } from 'zod';
import { tenantPseudonym } from '../../../shared/account/tenant-pseudonym.ts';
import { type DeletionRequest, deletionRequestSchema } from '../../../shared/jobs/account-requests.ts';
import { createJobRepository } from '../../../shared/jobs/job-repository.ts';
import { tenantPrefix } from '../../../shared/storage/storage.ts';
import { BadInputError, TaskError } from '../../jobs/job-errors.ts';
import type { JobDefinition } from '../../jobs/job-runner.ts';
import { readingStep, type StepContext, type StepDefinition, steps } from '../../jobs/step.ts';
import { createReceiptStore, receiptMail } from './deletion-receipt.ts';
import { purgeTenantQueues } from './queue-purge.ts';
import { revokeIntegrations } from './revoke-integrations.ts';
import { countRows, eraseRows, ownerEmails, tenantData, usersToErase } from './tenant-data.ts';

type Ctx = StepContext<DeletionRequest>;

const jobs = createJobRepository();

/** A retry that finds the grace period still running (the job was enqueued without its delay). */
export class DeletionNotDueError extends TaskError {
  constructor(readonly scheduledFor: string) {
    // Retried: the next attempt (after backoff) may find the grace period over.
    super(
      `the account deletion is scheduled for ${scheduledFor}; refusing to run earlier`,
      'step_failed',
      true,
    );
  }
}

// Clocks of API and worker hosts differ a little; a minute early is still "due".
const CLOCK_SKEW_MS = 60_000;
const LONG_MS = 30 * 60 * 1000;

/**
 * `inventory`: freezes the tenant (sessions and API keys revoked, so nothing new arrives),
 * counts what it holds and opens the receipt with those counts. The owners' addresses are
 * captured for the final mail. On a resumed deletion (receipt exists) the guards are skipped.
 */
const inventory: StepDefinition<DeletionRequest, { receipt_id: string; owners: string[] }, 'inventory'> = {
  name: 'inventory',
  weight: 1,
  deadlineMs: () => 5 * 60 * 1000,
  async run(ctx: Ctx) {
    const { db, storage } = ctx.services;
    const tenantId = ctx.job.tenant_id;
    const receipts = createReceiptStore(db);
    const owners = await ownerEmails(db, tenantId);
    const storageObjects = await storage.list(tenantPrefix(tenantId));
    const data = await tenantData(db, tenantId, ctx.job.id);
    const receipt = await db.transaction(async (trx) => {
      const existing = await receipts.find(trx, ctx.job.id);
      const tenant = await trx('tenants')
        .select('deletion_scheduled_for')
        .where({ id: tenantId })
        .forUpdate()
        .first();
      if (!existing && tenant) {
        if (!tenant.deletion_scheduled_for)
          throw new BadInputError('the deletion was canceled', 'deletion_canceled');
        if (Date.parse(ctx.payload.scheduled_for) > Date.now() + CLOCK_SKEW_MS) {
          throw new DeletionNotDueError(ctx.payload.scheduled_for);
        }
      }
      if (existing) return existing;
      await trx('sessions')
        .update({ revoked_at: trx.fn.now(), revoked_reason: 'account_deleted' })
        .where({ tenant_id: tenantId })
        .whereNull('revoked_at');
      await trx('api_keys')
        .update({ revoked_at: trx.fn.now() })
        .where({ tenant_id: tenantId })
        .whereNull('revoked_at');
      const counts: Record<string, number> = {
        tenant: tenant ? 1 : 0,
        members: Number(
          (await trx('memberships').where({ tenant_id: tenantId }).count({ n: '*' }))[0]?.n ?? 0,
        ),
        users: (await usersToErase(trx, tenantId)).length,
        storage_objects: storageObjects.length,
        storage_bytes: storageObjects.reduce((s, o) => s + o.bytes, 0),
        usage_events_pseudonymised: Number(
          (await trx('usage_events').where({ tenant_id: tenantId }).count({ n: '*' }))[0]?.n ?? 0,
        ),
      };
      for (const d of data) counts[d.kind] = (counts[d.kind] ?? 0) + (await countRows(trx, d));
      // The deletion job itself goes too, in the last step.
      counts.jobs = (counts.jobs ?? 0) + (tenant ? 1 : 0);
      return receipts.open(trx, { jobId: ctx.job.id, tenantRef: tenantPseudonym(tenantId), counts });
    });
    // After commit: API replicas cache keys and sessions; the revocation must reach them now.
    await ctx.services.generations.bump([tenantId]);
    return { result: { receipt_id: receipt.id, owners } };
  },
};

/** `cancel-jobs`: queued jobs end as canceled, running ones are asked to stop; then BullMQ forgets them all. */
const cancelJobs: StepDefinition<
  DeletionRequest,
  { canceled: number; stopping: number; removed: number },
  'cancel-jobs'
> = {
  name: 'cancel-jobs',
  weight: 2,
  deadlineMs: () => 5 * 60 * 1000,
  async run(ctx: Ctx) {
    const { db, producer, logger } = ctx.services;
    const tenantId = ctx.job.tenant_id;
    const { canceled, stopping } = await jobs.cancelTenantJobs(db, tenantId, ctx.job.id);
    let removed = 0;
    if (producer) removed = await purgeTenantQueues(db, producer, tenantId, ctx.job.id, ctx.signal);
    else logger.warn({ job_id: ctx.job.id }, 'no producer: BullMQ entries of the tenant left to expire');
    return { result: { canceled, stopping, removed } };
  },
};

/** `delete-storage`: outputs, exports and the media cache all live under the tenant prefix. */
const deleteStorage: StepDefinition<DeletionRequest, { deleted: number }, 'delete-storage'> = {
  name: 'delete-storage',
  weight: 3,
  deadlineMs: () => LONG_MS,
  async run(ctx: Ctx) {
    const deleted = await ctx.services.storage.deletePrefix(tenantPrefix(ctx.job.tenant_id));
    return { result: { deleted } };
  },
};

/** `close-billing`: the final usage report and the Stripe customer's deletion (metering's hook). */
const closeBilling: StepDefinition<
  DeletionRequest,
  { billing: 'customer_deleted' | 'none' },
  'close-billing'
> = {
  name: 'close-billing',
  weight: 1,
  deadlineMs: () => 5 * 60 * 1000,
  async run(ctx: Ctx) {
    const billing = ctx.services.billing;
    if (billing) await billing.deleteCustomer(ctx.job.tenant_id, ctx.signal);
    return { result: { billing: billing ? 'customer_deleted' : 'none' } };
  },
};

/** `pseudonymise-usage`: the ledger stays for invoices, under the pseudonym instead of the tenant id. */
const pseudonymiseUsage: StepDefinition<DeletionRequest, { rows: number }, 'pseudonymise-usage'> = {
  name: 'pseudonymise-usage',
  weight: 1,
  deadlineMs: () => LONG_MS,
  async run(ctx: Ctx) {
    const rows = await ctx.services
      .db('usage_events')
      .update({ tenant_id: tenantPseudonym(ctx.job.tenant_id) })
      .where({ tenant_id: ctx.job.tenant_id });
    return { result: { rows } };
  },
};

/** `erase-data`: every tenant row except memberships, users, the tenant and this job (batched). */
const eraseData: StepDefinition<DeletionRequest, { erased: Record<string, number> }, 'erase-data'> = {
  name: 'erase-data',
  weight: 4,
  deadlineMs: () => LONG_MS,
  async run(ctx: Ctx) {
    const { db } = ctx.services;
    const erased: Record<string, number> = {};
    const data = await tenantData(db, ctx.job.tenant_id, ctx.job.id);
    for (const [i, d] of data.entries()) {
      erased[d.kind] = (erased[d.kind] ?? 0) + (await eraseRows(db, d, ctx.signal));
      await ctx.progress((i + 1) / data.length);
    }
    return { result: { erased } };
  },
};

// Only the owners of the inventory; one written by older code may have captured none.
const capturedOwners = z.object({ inventory: z.object({ owners: z.array(z.string()).optional() }) });

/**
 * `notify-owners`: mails the receipt to the owners captured by `inventory` — before the last
 * step, because once the job row is gone nothing would retry a lost mail. At least once.
 */
const notifyOwners = readingStep({
  name: 'notify-owners',
  weight: 1,
  reads: capturedOwners,
  async run(ctx: StepContext<DeletionRequest, z.infer<typeof capturedOwners>>) {
    const { db, mailer } = ctx.services;
    const receipts = createReceiptStore(db);
    const receipt = await receipts.find(db, ctx.job.id);
    if (!receipt || receipt.notified_at) return { result: { notified: 0 } };
    const captured = ctx.results.inventory.owners;
    const owners = captured?.length ? captured : await ownerEmails(db, ctx.job.tenant_id);
    const mail = receiptMail(receipt);
    for (const to of owners) await mailer.send({ to, ...mail });
    await receipts.markNotified(ctx.job.id);
    return { result: { notified: owners.length } };
  },
});

/**
 * `finalize`: one transaction erases what is left — stragglers, memberships, users in no other
 * tenant (and their sign-in links), this job and the tenant — and completes the receipt. This
 * step removes its own job row: the runner's later writes to it match nothing.
 */
const finalize: StepDefinition<DeletionRequest, { users: number }, 'finalize'> = {
  name: 'finalize',
  weight: 1,
  deadlineMs: () => 5 * 60 * 1000,
  async run(ctx: Ctx) {
    const { db } = ctx.services;
    const tenantId = ctx.job.tenant_id;
    const receipts = createReceiptStore(db);
    const data = await tenantData(db, tenantId, ctx.job.id);
    const users = await db.transaction(async (trx) => {
      const tenant = await trx('tenants').select('id').where({ id: tenantId }).forUpdate().first();
      if (!tenant) {
        await receipts.complete(trx, ctx.job.id);
        return 0;
      }
      for (const d of data) await trx(d.table).where(d.scope).delete();
      const erased = await usersToErase(trx, tenantId);
      await trx('magic_link_tokens')
        .whereIn(
          'email',
          erased.map((u) => u.email),
        )
        .where({ purpose: 'login' })
        .delete();
      await trx('memberships').where({ tenant_id: tenantId }).delete();
      await trx('users')
        .whereIn(
          'id',
          erased.map((u) => u.id),
        )
        .delete();
      await jobs.deleteJob(trx, ctx.job.id);
      await trx('tenants').where({ id: tenantId }).delete();
      await receipts.complete(trx, ctx.job.id);
      return erased.length;
    });
    return { result: { users } };
  },
};

/** The steps of a `deletion` job (`account.delete`), in order; each may run again after a crash. */
export const deletionSteps = steps<DeletionRequest>()
  .add(inventory)
  .add(cancelJobs)
  .add(deleteStorage)
  .add(closeBilling)
  .add(revokeIntegrations)
  .add(pseudonymiseUsage)
  .add(eraseData)
  .add(notifyOwners)
  .add(finalize).steps;

/** Catalog entry for `account.delete` (queue `account`). */
export const deletionJob: JobDefinition<DeletionRequest> = {
  kind: 'deletion',
  request: deletionRequestSchema,
  steps: deletionSteps,
};
