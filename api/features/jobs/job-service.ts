import path from 'node:path';
import type { Readable } from 'node:stream';
import type { Knex } from 'knex';
import { createBatcher } from '../../../shared/async/batcher.ts';
import { withTimeout } from '../../../shared/async/with-timeout.ts';
import { roleAtLeast } from '../../../shared/auth/roles.ts';
import { ForbiddenError, NotFoundError } from '../../../shared/errors/http-errors.ts';
import type { EventWriter } from '../../../shared/events/event-stream.ts';
import { jobEventData } from '../../../shared/jobs/callback-event.ts';
import type { JobRow } from '../../../shared/jobs/job-contract.ts';
import type { JobListFilter, JobRepository } from '../../../shared/jobs/job-repository.ts';
import type { JobSubmission } from '../../../shared/jobs/job-requests.ts';
import type { Logger } from '../../../shared/logging/logger.ts';
import type { PlanGate } from '../../../shared/metering/plan-gate.ts';
import type { PlanCatalogue } from '../../../shared/metering/plans.ts';
import type { QuotaService } from '../../../shared/metering/quota-service.ts';
import { usageByJob } from '../../../shared/metering/usage-ledger.ts';
import type { Metrics } from '../../../shared/metrics/metrics.ts';
import type { Producer } from '../../../shared/queue/producer.ts';
import {
  DOWNLOAD_URL_TTL_SECONDS,
  type SignedDownload,
  signDownload,
  verifyDownload,
} from '../../../shared/storage/signed-url.ts';
import type { Storage } from '../../../shared/storage/storage.ts';
import { announceJobEvent } from '../../../shared/webhooks/announce-job-event.ts';
import { encodeTimeCursor } from '../../http/keyset-cursor.ts';
import { createCancelJob } from './cancel-job.ts';
import type { IdempotencyStore } from './idempotency-store.ts';
import { hasLiveOutput, type JobView, serializeJob } from './job-serializer.ts';
import { createSubmitJob, type DryRun, type JobActor } from './submit-job.ts';
import type { TenantState, TenantStateReader } from './tenant-state.ts';

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
  /** Metering: reserves a submission's estimate (402) and releases a canceled queued job's. */
  quota: Pick<QuotaService, 'prepare' | 'reserve' | 'release'>;
  /** Metering: the plan gate (403 `upgrade_required`), before a submission's transaction. */
  gate: PlanGate;
  plans: PlanCatalogue;
  /** The tenant's plan columns and default endpoint (cached per tenant generation by the API). */
  tenantState: TenantStateReader;
  /** Longest a request waits for Redis to take a job before leaving it to the reconciler. Default 3000 ms. */
  queueTimeoutMs?: number;
  /** Group commit of concurrent submissions (submit-job.ts); default 4 statements of up to 32. */
  groupCommit?: { maxInFlight: number; maxItems: number };
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

  // `enqueued_at` is the outbox marker: null makes the reconciler add the job to BullMQ again,
  // which is a no-op for a job BullMQ has (jobId = our id). So the mark can wait a few
  // milliseconds and go out as one UPDATE for every job enqueued meanwhile; a crash before it
  // costs one redundant add per job, never a lost job.
  const marks = createBatcher<string>({
    maxWaitMs: 5,
    maxItems: 500,
    flush: (ids) => store.markEnqueuedMany(db, ids),
    onError: (err, ids) =>
      logger.warn(
        { err, jobs: ids.length },
        'marking jobs enqueued failed; the reconciler will add them again',
      ),
  });

  /** After commit: add the BullMQ job, then mark the row. A failure leaves the row to the reconciler. */
  async function enqueue(job: JobRow): Promise<boolean> {
    try {
      await withTimeout(
        producer.enqueueJob({ id: job.id, tenant_id: job.tenant_id, kind: job.kind, priority: job.priority }),
        queueTimeoutMs,
        'enqueue',
      );
      marks.add(job.id);
      return true;
    } catch (err) {
      logger.warn({ err, job_id: job.id }, 'enqueue failed; the reconciler will enqueue the job');
      return false;
    }
  }

  /**
   * After commit: tells the tenant's event stream (and a default endpoint that asks) that a job
   * was queued. `tenant`: its state as the request read it (else the endpoint is read now).
   */
  async function announceQueued(job: JobRow, tenant?: TenantState): Promise<void> {
    const endpoint = tenant ? { endpoint: async () => tenant.endpoint } : {};
    await announceJobEvent({ ...deps, ...endpoint }, job, 'job.queued', {
      job: jobEventData(publicUrl, { ...job }),
    });
  }

  const submission = createSubmitJob({
    ...deps,
    enqueue: async (job, tenant) => {
      await announceQueued(job, tenant);
      return enqueue(job);
    },
    view,
  });
  const cancellation = createCancelJob({ ...deps, queueTimeoutMs, view });

  return {
    /** Writes the `enqueued_at` marks still waiting (on shutdown, and in tests that read them). */
    drain: () => marks.drain(),

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
    announceFinal: cancellation.announceFinal,
    recordCanceled: cancellation.recordCanceled,

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
    cancel: cancellation.cancel,

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
