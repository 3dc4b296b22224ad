import type { Knex } from 'knex';
import { enqueueDeletionJob } from '../../../shared/account/deletion-queue.ts';
import { withTimeout } from '../../../shared/async/with-timeout.ts';
import { type AuditEntry, appendAudit } from '../../../shared/audit/audit-log.ts';
import { lastVerifiedBackupAt } from '../../../shared/backup/backup-store.ts';
import { ConflictError, ForbiddenError } from '../../../shared/errors/http-errors.ts';
import type { EventWriter } from '../../../shared/events/event-stream.ts';
import { newId } from '../../../shared/ids/ids.ts';
import type { DeletionRequest, ExportRequest } from '../../../shared/jobs/account-requests.ts';
import type { FinalJobEvent } from '../../../shared/jobs/callback-event.ts';
import type { JobRepository } from '../../../shared/jobs/job-repository.ts';
import type { Logger } from '../../../shared/logging/logger.ts';
import type { Mailer } from '../../../shared/mail/mailer.ts';
import { announceNotifications, notify } from '../../../shared/notifications/notify.ts';
import type { Producer } from '../../../shared/queue/producer.ts';
import { KIND_ROUTING } from '../../../shared/queue/queues.ts';
import type { JobView } from '../jobs/job-serializer.ts';
import type { JobService } from '../jobs/job-service.ts';
import type { AccountStore } from './account-store.ts';

export interface AccountView {
  id: string;
  name: string;
  /** Set while a deletion is pending (the tenant's marker, cleared by a cancel). */
  deletion_scheduled_for: string | null;
  /** When the platform's last verified backup was taken (null before the first). */
  last_backup_at: string | null;
}

/** Deleting the account needs a sign-in (magic link) this recent, not just a live session. */
export const RECENT_SIGN_IN_SECONDS = 15 * 60;

export interface AccountActor {
  tenantId: string;
  /** User or API key id, stored as the job's `created_by`. */
  actorId: string | null;
  sessionId: string | null;
  audit: Pick<AuditEntry, 'actorType' | 'actorId' | 'requestId' | 'ip'>;
}

export interface AccountServiceDeps {
  db: Knex;
  store: AccountStore;
  /** The job repository (`jobs` rows of exports and deletions). */
  jobStore: JobRepository;
  jobs: JobService;
  producer: Producer;
  mailer: Mailer;
  logger: Logger;
  /** Tells open dashboards that notification feeds changed. */
  events?: EventWriter;
  /** ACCOUNT_DELETION_GRACE_SECONDS */
  graceSeconds: number;
  /** Longest a request waits for Redis before leaving the job to the reconciler. Default 3000 ms. */
  queueTimeoutMs?: number;
}

/**
 * Export and deletion requests. Both are jobs (kinds `export`, `deletion`) run by the workers;
 * the API writes the row, the audit entry and — for a deletion — the tenant's marker in one
 * transaction, and tells BullMQ after commit (the reconciler covers a lost enqueue).
 */
export function createAccountService(deps: AccountServiceDeps) {
  const { db, store, jobStore, logger } = deps;
  const timeoutMs = deps.queueTimeoutMs ?? 3000;
  // Mails leave after the answer; stop() awaits them.
  const pending = new Set<Promise<void>>();

  function mailOwners(tenantId: string, subject: string, text: string): void {
    const p = store
      .ownerEmails(db, tenantId)
      .then((emails) => Promise.all(emails.map((to) => deps.mailer.send({ to, subject, text }))))
      .then(() => undefined)
      .catch((err: unknown) => logger.error({ err, tenant_id: tenantId }, 'account mail failed'))
      .finally(() => pending.delete(p));
    pending.add(p);
  }

  async function afterCommit(what: string, jobId: string, work: () => Promise<void>): Promise<void> {
    try {
      await withTimeout(work(), timeoutMs, what);
      await jobStore.markEnqueued(db, jobId);
    } catch (err) {
      logger.warn({ err, job_id: jobId }, `${what} failed; the reconciler will enqueue the job`);
    }
  }

  return {
    /** One export at a time: while one is queued or running, asking again answers that job. */
    async requestExport(actor: AccountActor): Promise<JobView> {
      const { job, created } = await db.transaction(async (trx) => {
        await store.lockTenant(trx, actor.tenantId);
        const open = await jobStore.findOpenOfKind(trx, actor.tenantId, 'export');
        if (open) return { job: open, created: false };
        const payload: ExportRequest = { requested_by: actor.actorId };
        const row = await jobStore.insert(trx, {
          id: newId('job'),
          tenant_id: actor.tenantId,
          kind: 'export',
          payload,
          estimate: {},
          metadata: {},
          callback_url: null,
          created_by: actor.actorId,
          priority: 0,
        });
        await appendAudit(trx, {
          ...actor.audit,
          tenantId: actor.tenantId,
          action: 'account.export_requested',
          targetType: 'job',
          targetId: row.id,
        });
        return { job: row, created: true };
      });
      if (created) {
        await deps.jobs.announceQueued(job);
        await afterCommit('enqueue', job.id, () =>
          deps.producer.enqueueJob({ id: job.id, tenant_id: job.tenant_id, kind: 'export' }),
        );
      }
      return deps.jobs.get(actor.tenantId, job.id);
    },

    /**
     * Schedules the deletion after the grace period. Asking again while one is pending answers
     * the same date (no second job, no second mail).
     */
    async scheduleDeletion(actor: AccountActor): Promise<{ scheduled_for: string; job_id: string }> {
      const authenticatedAt = actor.sessionId
        ? await store.sessionAuthenticatedAt(db, actor.sessionId)
        : null;
      if (!authenticatedAt || Date.now() - authenticatedAt.getTime() > RECENT_SIGN_IN_SECONDS * 1000) {
        throw new ForbiddenError(
          'Deleting the account needs a recent sign-in: request a new magic link, sign in with it, ' +
            `and retry within ${RECENT_SIGN_IN_SECONDS / 60} minutes`,
        );
      }
      const outcome = await db.transaction(async (trx) => {
        await store.lockTenant(trx, actor.tenantId);
        const open = await jobStore.findOpenOfKind(trx, actor.tenantId, 'deletion');
        if (open) {
          const payload = open.payload as Partial<DeletionRequest>;
          return {
            jobId: open.id,
            scheduledFor: new Date(payload.scheduled_for ?? Date.now()),
            created: false,
            row: null,
          };
        }
        const scheduledFor = new Date(Date.now() + deps.graceSeconds * 1000);
        const payload: DeletionRequest = {
          requested_by: actor.actorId,
          scheduled_for: scheduledFor.toISOString(),
        };
        const row = await jobStore.insert(trx, {
          id: newId('job'),
          tenant_id: actor.tenantId,
          kind: 'deletion',
          payload,
          estimate: {},
          metadata: {},
          callback_url: null,
          created_by: actor.actorId,
          priority: 0,
        });
        await store.setDeletionScheduledFor(trx, actor.tenantId, scheduledFor);
        await appendAudit(trx, {
          ...actor.audit,
          tenantId: actor.tenantId,
          action: 'account.deletion_scheduled',
          targetType: 'job',
          targetId: row.id,
          metadata: { scheduled_for: payload.scheduled_for },
        });
        // Everyone loses access when it runs, not only the owners who get the mail.
        await notify(trx, {
          tenantId: actor.tenantId,
          type: 'deletion.scheduled',
          title: 'This workspace is scheduled for deletion',
          body: `Everything in it will be erased on ${scheduledFor.toISOString()}. An owner can cancel until then.`,
          link: '/account',
          targetType: 'job',
          targetId: row.id,
          dedupeKey: `deletion.scheduled:${row.id}`,
          audience: 'everyone',
        });
        return { jobId: row.id, scheduledFor, created: true, row };
      });
      if (outcome.created && outcome.row) {
        await deps.jobs.announceQueued(outcome.row);
        await announceNotifications(deps.events, actor.tenantId, 'deletion.scheduled');
        await afterCommit('enqueue', outcome.jobId, () =>
          enqueueDeletionJob(deps.producer, {
            id: outcome.jobId,
            tenant_id: actor.tenantId,
            scheduledFor: outcome.scheduledFor,
          }),
        );
        mailOwners(
          actor.tenantId,
          'Your Rendermill account will be deleted',
          `A deletion of your Rendermill account was requested. Everything it holds — outputs, jobs, ` +
            `members, API keys, the audit log — will be erased on ${outcome.scheduledFor.toISOString()}.\n\n` +
            'Changed your mind? An owner can stop it until then: POST /v1/account/delete/cancel.\n' +
            'Only the usage ledger needed for invoices is kept, under a pseudonym.\n',
        );
      }
      return { scheduled_for: outcome.scheduledFor.toISOString(), job_id: outcome.jobId };
    },

    /** Stops a pending deletion. Once the deletion job has started it cannot be stopped: 409. */
    async cancelDeletion(actor: AccountActor): Promise<{ canceled: true; job_id: string }> {
      let final: FinalJobEvent | null = null;
      const job = await db.transaction(async (trx) => {
        await store.lockTenant(trx, actor.tenantId);
        const open = await jobStore.findOpenOfKind(trx, actor.tenantId, 'deletion');
        if (!open) throw new ConflictError('No account deletion is scheduled');
        if (open.status !== 'queued') {
          throw new ConflictError('The deletion has already started and can no longer be stopped');
        }
        const canceled = await jobStore.cancelQueued(trx, open.id);
        if (!canceled)
          throw new ConflictError('The deletion has already started and can no longer be stopped');
        await store.setDeletionScheduledFor(trx, actor.tenantId, null);
        final = await deps.jobs.recordCanceled(trx, open.id);
        await appendAudit(trx, {
          ...actor.audit,
          tenantId: actor.tenantId,
          action: 'account.deletion_canceled',
          targetType: 'job',
          targetId: open.id,
        });
        await notify(trx, {
          tenantId: actor.tenantId,
          type: 'deletion.canceled',
          title: 'The deletion of this workspace was canceled',
          body: 'Nothing was deleted.',
          link: '/account',
          targetType: 'job',
          targetId: open.id,
          dedupeKey: `deletion.canceled:${open.id}`,
          audience: 'everyone',
        });
        return canceled;
      });
      try {
        const queued = await withTimeout(
          deps.producer.queue(KIND_ROUTING.deletion.queue).getJob(job.id),
          timeoutMs,
          'getJob',
        );
        if (queued) await withTimeout(queued.remove(), timeoutMs, 'remove');
      } catch (err) {
        // The row says canceled: a worker that still gets the BullMQ job skips it.
        logger.warn({ err, job_id: job.id }, 'canceled deletion left in BullMQ; its worker will skip it');
      }
      if (final) await deps.jobs.announceFinal(final);
      await announceNotifications(deps.events, actor.tenantId, 'deletion.canceled');
      mailOwners(
        actor.tenantId,
        'Your Rendermill account will not be deleted',
        'The scheduled deletion of your Rendermill account was canceled. Nothing was deleted.\n',
      );
      return { canceled: true, job_id: job.id };
    },

    /** The workspace's name, while a deletion is pending when it runs, and the last verified backup. */
    async get(tenantId: string): Promise<AccountView> {
      const [tenant, lastBackupAt] = await Promise.all([
        store.tenant(db, tenantId),
        lastVerifiedBackupAt(db),
      ]);
      return {
        id: tenant.id,
        name: tenant.name,
        deletion_scheduled_for: tenant.deletion_scheduled_for?.toISOString() ?? null,
        last_backup_at: lastBackupAt,
      };
    },

    /** Renames the workspace (audited with the old and the new name). */
    async rename(actor: AccountActor, name: string): Promise<AccountView> {
      await db.transaction(async (trx) => {
        const before = await store.lockTenant(trx, actor.tenantId);
        if (before.name === name) return;
        await store.rename(trx, actor.tenantId, name);
        await appendAudit(trx, {
          ...actor.audit,
          tenantId: actor.tenantId,
          action: 'account.renamed',
          targetType: 'tenant',
          targetId: actor.tenantId,
          metadata: { from: before.name, to: name },
        });
      });
      return this.get(actor.tenantId);
    },

    /** Waits for mails still being sent (graceful stop, tests). */
    async drain(): Promise<void> {
      await Promise.all([...pending]);
    },
  };
}

export type AccountService = ReturnType<typeof createAccountService>;
