import path from 'node:path';
import type { Readable } from 'node:stream';
import type { Knex } from 'knex';
import { appendAudit } from '../../../shared/audit/audit-log.ts';
import { roleAtLeast } from '../../../shared/auth/roles.ts';
import { ConflictError, ForbiddenError, NotFoundError } from '../../../shared/errors/http-errors.ts';
import type { EventWriter } from '../../../shared/events/event-stream.ts';
import { jobEventData, recordCallback } from '../../../shared/jobs/callback-event.ts';
import { isFinal, type JobRow } from '../../../shared/jobs/job-contract.ts';
import type { JobListFilter, JobRepository } from '../../../shared/jobs/job-repository.ts';
import type { Logger } from '../../../shared/logging/logger.ts';
import { usageByJob } from '../../../shared/metering/usage-ledger.ts';
import type { Metrics } from '../../../shared/metrics/metrics.ts';
import type { Producer } from '../../../shared/queue/producer.ts';
import { KIND_ROUTING } from '../../../shared/queue/queues.ts';
import {
  DOWNLOAD_URL_TTL_SECONDS,
  type SignedDownload,
  signDownload,
  verifyDownload,
} from '../../../shared/storage/signed-url.ts';
import type { Storage } from '../../../shared/storage/storage.ts';
import { encodeTimeCursor } from '../../http/keyset-cursor.ts';
import type { IdempotencyStore } from './idempotency-store.ts';
import { hasLiveOutput, type JobView, serializeJob } from './job-serializer.ts';
import type { JobSubmission, PlanGate, ReleaseQuota, ReserveQuota } from './submission-seams.ts';
import { createSubmitJob, type DryRun, type JobActor } from './submit-job.ts';

export interface JobServiceDeps {
  db: Knex;
  /** The one owner of `jobs` and `job_steps` SQL. */
  jobs: JobRepository;
  idempotency: IdempotencyStore;
  producer: Producer;
  storage: Storage;
  logger: Logger;
  metrics: Metrics;
  /** The tenant event stream: `job.queued` after a submit commits, `job.canceled` for a queued job. */
  events: EventWriter;
  /** PUBLIC_URL, without a trailing slash. */
  publicUrl: string;
  /** JWT_SECRET: download links are signed with a key derived from it. */
  signingSecret: string;
  /** FETCH_ALLOW_PRIVATE. */
  allowPrivateHosts: string[];
  /** Quota seams, filled by metering; no-ops by default (see submission-seams.ts). */
  reserve: ReserveQuota;
  release: ReleaseQuota;
  gate: PlanGate;
  /** Longest a request waits for Redis to take a job before leaving it to the reconciler. Default 3000 ms. */
  queueTimeoutMs?: number;
}

export interface Download {
  contentType: string;
  filename: string;
  /** Set when the store is a local directory: lets Express serve ranges. */
  localPath: string | null;
  /** Set when the store signs its own links (S3): the client is sent there instead. */
  redirect: string | null;
  open(): Promise<Readable>;
}

const CONTENT_TYPE_EXT: Record<string, string> = {
  'video/mp4': 'mp4',
  'audio/wav': 'wav',
  'audio/x-wav': 'wav',
  'audio/mpeg': 'mp3',
  'image/png': 'png',
  'image/jpeg': 'jpg',
  'application/zip': 'zip',
};

/** Resolves after `ms` with a rejection, so a dead Redis costs a request at most that long. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  // The loser may still settle later; its rejection must not surface as unhandled.
  promise.catch(() => undefined);
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Use cases of the jobs feature. Transactions open here; SQL lives in the store. */
type LiveOutputJob = JobRow & { output_key: string; output_content_type: string };

function fileOf(job: LiveOutputJob): { contentType: string; filename: string } {
  const ext =
    path.posix.extname(job.output_key).slice(1) ||
    CONTENT_TYPE_EXT[job.output_content_type.toLowerCase()] ||
    'bin';
  return { contentType: job.output_content_type, filename: `${job.id}.${ext}` };
}

export function createJobService(deps: JobServiceDeps) {
  const { db, jobs: store, producer, logger, publicUrl } = deps;
  const queueTimeoutMs = deps.queueTimeoutMs ?? 3000;

  async function views(tenantId: string, jobs: JobRow[]): Promise<JobView[]> {
    const ids = jobs.map((j) => j.id);
    const [steps, usage] = await Promise.all([store.stepViews(db, ids), usageByJob(db, tenantId, ids)]);
    return jobs.map((j) => serializeJob(j, { steps, usage, publicUrl }));
  }

  const view = async (job: JobRow): Promise<JobView> => (await views(job.tenant_id, [job]))[0]!;

  const presign = (job: LiveOutputJob, ttlSeconds: number) =>
    deps.storage.presignedUrl(job.output_key, { ttlSeconds, ...fileOf(job) });

  /** After commit: add the BullMQ job, then mark the row. A failure leaves the row to the reconciler. */
  async function enqueue(job: JobRow): Promise<boolean> {
    try {
      await withTimeout(
        producer.enqueueJob({ id: job.id, tenant_id: job.tenant_id, kind: job.kind, priority: job.priority }),
        queueTimeoutMs,
        'enqueue',
      );
      await store.markEnqueued(db, job.id);
      return true;
    } catch (err) {
      logger.warn({ err, job_id: job.id }, 'enqueue failed; the reconciler will enqueue the job');
      return false;
    }
  }

  /** A canceled queued job must not start: drop it from BullMQ unless a worker already holds it. */
  async function dequeue(job: JobRow): Promise<void> {
    try {
      const queue = KIND_ROUTING[job.kind].queue;
      // Still waiting its fair turn: off its tenant's list, and it never reaches BullMQ.
      if (
        producer.fair &&
        (await withTimeout(producer.fair.remove(queue, job.tenant_id, job.id), queueTimeoutMs, 'fair.remove'))
      ) {
        return;
      }
      const queued = await withTimeout(producer.queue(queue).getJob(job.id), queueTimeoutMs, 'getJob');
      // remove() refuses a job locked by a worker; that worker sees `canceled` in Postgres and stops.
      if (queued) await withTimeout(queued.remove(), queueTimeoutMs, 'remove');
    } catch (err) {
      logger.info({ err, job_id: job.id }, 'canceled job left in BullMQ; its worker will skip it');
    }
  }

  /** After commit: tells the tenant's event stream that a job was queued. */
  async function announceQueued(job: JobRow): Promise<void> {
    await deps.events.emit(job.tenant_id, 'job.queued', { job: jobEventData(publicUrl, { ...job }) });
  }

  const submission = createSubmitJob({
    ...deps,
    enqueue: async (job) => {
      await announceQueued(job);
      return enqueue(job);
    },
    view,
  });

  return {
    /**
     * Validates URLs, gates, then inserts job + idempotency record + audit (+ reservation) in one
     * transaction and enqueues after commit. `replayed` = an earlier request with the same
     * `Idempotency-Key` and body made this job.
     */
    submit(
      actor: JobActor,
      sub: JobSubmission,
      idempotencyKey: string | null,
    ): Promise<{ job: JobView; replayed: boolean }> {
      return submission.submit(actor, sub, idempotencyKey);
    },

    /** What a submit of this body would get, without creating anything (POST …/estimate). */
    dryRun(actor: JobActor, sub: JobSubmission): Promise<DryRun> {
      return submission.dryRun(actor, sub);
    },

    announceQueued,

    async get(tenantId: string, id: string): Promise<JobView> {
      const job = await store.find(db, tenantId, id);
      if (!job) throw new NotFoundError('Job not found');
      return view(job);
    },

    async list(
      tenantId: string,
      filter: JobListFilter,
    ): Promise<{ data: JobView[]; next_cursor: string | null }> {
      const rows = await store.list(db, tenantId, filter);
      const page = rows.slice(0, filter.limit);
      const last = page.at(-1);
      const more = rows.length > filter.limit && last !== undefined;
      return {
        data: await views(tenantId, page),
        next_cursor: more ? encodeTimeCursor(last.position, last.id) : null,
      };
    },

    /** queued → canceled now; running → cancel requested (its worker stops it); final → 409. */
    async cancel(actor: JobActor, id: string): Promise<JobView> {
      const { job, wasQueued, callback } = await db.transaction(async (trx) => {
        const current = await store.findForUpdate(trx, actor.tenantId, id);
        if (!current) throw new NotFoundError('Job not found');
        if (isFinal(current.status)) throw new ConflictError(`The job is already ${current.status}`);
        // An account deletion is stopped by its owner through /v1/account/delete/cancel only.
        if (current.kind === 'deletion' && !roleAtLeast(actor.role ?? 'viewer', 'owner')) {
          throw new ForbiddenError(
            'Only an owner can cancel an account deletion (POST /v1/account/delete/cancel)',
          );
        }
        const queued = current.status === 'queued';
        const updated = queued ? await store.cancelQueued(trx, id) : await store.requestCancel(trx, id);
        if (!updated) throw new NotFoundError('Job not found');
        if (queued) await deps.release(trx, { tenantId: actor.tenantId, jobId: id });
        // A queued job never reaches a worker: its `job.canceled` callback is recorded here.
        const callback = queued ? await recordCallback(trx, publicUrl, id, 'canceled') : null;
        await appendAudit(trx, {
          ...actor.audit,
          tenantId: actor.tenantId,
          action: queued ? 'job.canceled' : 'job.cancel_requested',
          targetType: 'job',
          targetId: id,
          metadata: { kind: current.kind, previous_status: current.status },
        });
        return { job: updated, wasQueued: queued, callback };
      });
      if (wasQueued) await dequeue(job);
      if (callback) await deps.events.publish(callback.tenantId, callback.event);
      if (callback?.deliveryId) {
        const payload = { deliveryId: callback.deliveryId, tenantId: callback.tenantId };
        await withTimeout(producer.enqueueCallback(payload), queueTimeoutMs, 'enqueueCallback').catch(
          (err: unknown) =>
            logger.warn({ err, job_id: job.id }, 'callback enqueue failed; the reconciler will add it'),
        );
      }
      return view(job);
    },

    /** The signed, short-lived link `GET /v1/jobs/:id/output` redirects to. */
    async outputLink(actor: JobActor, id: string): Promise<Pick<SignedDownload, 'url' | 'expires'>> {
      const job = await store.find(db, actor.tenantId, id);
      if (!job) throw new NotFoundError('Job not found');
      // An account export holds members' addresses and the audit log: admins only, like the request.
      if (job.kind === 'export' && !roleAtLeast(actor.role ?? 'viewer', 'admin')) {
        throw new ForbiddenError('Account exports can be downloaded by admins and owners only');
      }
      if (!hasLiveOutput(job)) throw new NotFoundError('This job has no output (yet, or any more)');
      // S3: straight to a presigned GET with the same life as our own signed link.
      const direct = await presign(job, DOWNLOAD_URL_TTL_SECONDS);
      if (direct) return { url: direct, expires: Math.floor(Date.now() / 1000) + DOWNLOAD_URL_TTL_SECONDS };
      return signDownload({ secret: deps.signingSecret, publicUrl, jobId: job.id });
    },

    /** `GET /v1/files/:jobId`: the signature is the credential, checked before the job is read. */
    async download(jobId: string, query: { expires: unknown; sig: unknown }): Promise<Download> {
      const check = verifyDownload({ secret: deps.signingSecret, jobId, ...query });
      if (!check.ok) {
        throw new ForbiddenError(
          check.reason === 'expired' ? 'This download link has expired' : 'Invalid download link',
        );
      }
      const job = await store.findById(db, jobId);
      if (!job || !hasLiveOutput(job)) throw new NotFoundError('This job has no output (yet, or any more)');
      const key = job.output_key;
      // A presigned URL lives no longer than the link that led to it (and at most 15 minutes).
      const left = Number(query.expires) - Math.floor(Date.now() / 1000);
      return {
        ...fileOf(job),
        localPath: deps.storage.localPath(key),
        redirect: await presign(job, Math.max(1, Math.min(DOWNLOAD_URL_TTL_SECONDS, left))),
        open: () => deps.storage.read(key),
      };
    },
  };
}

export type JobService = ReturnType<typeof createJobService>;
