import type { Knex } from 'knex';
import { type AuditEntry, appendAudit } from '../../../shared/audit/audit-log.ts';
import type { Role } from '../../../shared/auth/roles.ts';
import type { AppError } from '../../../shared/errors/app-error.ts';
import {
  ConflictError,
  QuotaExceededError,
  UpgradeRequiredError,
  ValidationError,
} from '../../../shared/errors/http-errors.ts';
import { newId } from '../../../shared/ids/ids.ts';
import { type Estimate, estimateImage, estimateRender, estimateTts } from '../../../shared/jobs/estimate.ts';
import type { JobRow } from '../../../shared/jobs/job-contract.ts';
import type { JobRepository } from '../../../shared/jobs/job-repository.ts';
import type { Metrics } from '../../../shared/metrics/metrics.ts';
import type { IdempotencyStore } from './idempotency-store.ts';
import type { JobView } from './job-serializer.ts';
import { requestHash } from './request-hash.ts';
import type { JobSubmission, PlanGate, ReserveQuota } from './submission-seams.ts';
import { unsafeUrlErrors } from './unsafe-url-errors.ts';

/** Who acts: the tenant, the user or key id (stored as `created_by`), and the request's audit fields. */
export interface JobActor {
  tenantId: string;
  actorId: string | null;
  /** The caller's role: some job kinds need more than the route's minimum (exports, deletions). */
  role?: Role;
  audit: Pick<AuditEntry, 'actorType' | 'actorId' | 'requestId' | 'ip'>;
}

/** Keys live 24 h per tenant (README: Jobs API); an expired key is replaced by the next request using it. */
export const IDEMPOTENCY_TTL_SECONDS = 24 * 3600;

function estimateOf(s: JobSubmission): Estimate {
  switch (s.kind) {
    case 'render':
      return estimateRender(s.request);
    case 'tts':
      return estimateTts(s.request);
    case 'image':
      return estimateImage(s.request);
  }
}

/** What a submit would do, found by doing it in a transaction that is always rolled back. */
export interface DryRun {
  estimate: Estimate;
  /** The 402 or 403 the real submit would answer; null: it would be accepted (202). */
  refusal: AppError | null;
}

class RollBack extends Error {}

type Outcome = { type: 'created'; job: JobRow } | { type: 'replay'; job: JobRow } | { type: 'retry' };

/**
 * The submit use case. One transaction writes the idempotency claim, the job (status `queued`,
 * `enqueued_at` null: the outbox marker), the quota reservation and the audit entry; BullMQ is
 * only told after commit. If Redis refuses, the 202 still stands: the reconciler enqueues every
 * queued row whose `enqueued_at` is null.
 */
export function createSubmitJob(deps: {
  db: Knex;
  jobs: JobRepository;
  idempotency: IdempotencyStore;
  metrics: Metrics;
  allowPrivateHosts: string[];
  reserve: ReserveQuota;
  gate: PlanGate;
  enqueue(job: JobRow): Promise<boolean>;
  view(job: JobRow): Promise<JobView>;
}) {
  const { db, jobs: store, idempotency: keys } = deps;

  async function attempt(
    actor: JobActor,
    s: JobSubmission,
    estimate: Estimate,
    idempotency: { key: string; hash: string } | null,
  ): Promise<Outcome> {
    return db.transaction(async (trx): Promise<Outcome> => {
      const jobId = newId('job');
      if (idempotency) {
        const claimed = await keys.claim(trx, {
          tenantId: actor.tenantId,
          key: idempotency.key,
          requestHash: idempotency.hash,
          jobId,
          ttlSeconds: IDEMPOTENCY_TTL_SECONDS,
        });
        if (!claimed) {
          // A live claim exists (perhaps committed a moment ago by a concurrent twin): read it.
          const existing = await keys.find(trx, actor.tenantId, idempotency.key);
          if (!existing) return { type: 'retry' }; // it expired between the two statements
          if (existing.request_hash !== idempotency.hash) {
            throw new ConflictError(
              'This Idempotency-Key was already used with a different request body; use a new key',
            );
          }
          const original = await store.find(trx, actor.tenantId, existing.job_id);
          if (!original) return { type: 'retry' };
          return { type: 'replay', job: original };
        }
      }
      let job = await store.insert(trx, {
        id: jobId,
        tenant_id: actor.tenantId,
        kind: s.kind,
        payload: s.request,
        estimate,
        metadata: s.request.metadata,
        callback_url: s.request.callback_url ?? null,
        created_by: actor.actorId,
        priority: 0,
      });
      // Seam: metering's quota service books the estimate here; its 402 rolls all of this back.
      const booked = await deps.reserve(trx, { tenantId: actor.tenantId, jobId, kind: s.kind, estimate });
      // Queue priority by plan: the reconciler re-adds the job with the same priority from the row.
      if (booked?.priority) {
        await store.setPriority(trx, jobId, booked.priority);
        job = { ...job, priority: booked.priority };
      }
      await appendAudit(trx, {
        ...actor.audit,
        tenantId: actor.tenantId,
        action: 'job.submitted',
        targetType: 'job',
        targetId: jobId,
        metadata: { kind: s.kind, estimate, idempotency_key: idempotency?.key ?? null },
      });
      return { type: 'created', job };
    });
  }

  /**
   * The estimate use case: the very checks of a submit — URL rules (400), plan gate (403), the
   * job insert and the quota reservation (402) — in a transaction that is always rolled back, so
   * the answer is what the submit would get and nothing is created, enqueued or audited.
   */
  async function dryRun(actor: JobActor, s: JobSubmission): Promise<DryRun> {
    const urlErrors = unsafeUrlErrors(s, deps.allowPrivateHosts);
    if (urlErrors.length > 0) throw new ValidationError(urlErrors);
    let refusal: AppError | null = null;
    try {
      await deps.gate({ ...s, tenantId: actor.tenantId });
    } catch (err) {
      if (!(err instanceof UpgradeRequiredError)) throw err;
      refusal = err;
    }
    const estimate = estimateOf(s);
    try {
      await db.transaction(async (trx) => {
        const jobId = newId('job');
        await store.insert(trx, {
          id: jobId,
          tenant_id: actor.tenantId,
          kind: s.kind,
          payload: s.request,
          estimate,
          metadata: s.request.metadata,
          callback_url: s.request.callback_url ?? null,
          created_by: actor.actorId,
          priority: 0,
        });
        await deps.reserve(trx, { tenantId: actor.tenantId, jobId, kind: s.kind, estimate });
        throw new RollBack();
      });
    } catch (err) {
      if (err instanceof QuotaExceededError) refusal ??= err;
      else if (!(err instanceof RollBack)) throw err;
    }
    return { estimate, refusal };
  }

  return { submit: submitJob, dryRun };

  async function submitJob(
    actor: JobActor,
    s: JobSubmission,
    idempotencyKey: string | null,
  ): Promise<{ job: JobView; replayed: boolean }> {
    const urlErrors = unsafeUrlErrors(s, deps.allowPrivateHosts);
    if (urlErrors.length > 0) throw new ValidationError(urlErrors);
    await deps.gate({ ...s, tenantId: actor.tenantId });
    const estimate = estimateOf(s);
    const idempotency = idempotencyKey ? { key: idempotencyKey, hash: requestHash(s.kind, s.request) } : null;

    for (let i = 0; i < 3; i++) {
      const outcome = await attempt(actor, s, estimate, idempotency);
      if (outcome.type === 'created') {
        deps.metrics.jobsSubmitted.inc({ kind: s.kind });
        await deps.enqueue(outcome.job);
        return { job: await deps.view(outcome.job), replayed: false };
      }
      if (outcome.type === 'replay') {
        // The first request may have lost its enqueue to a Redis blip; adding again is a no-op otherwise.
        if (outcome.job.status === 'queued' && outcome.job.enqueued_at === null) {
          await deps.enqueue(outcome.job);
        }
        return { job: await deps.view(outcome.job), replayed: true };
      }
    }
    throw new ConflictError('This Idempotency-Key is being replaced concurrently; retry the request');
  }
}
