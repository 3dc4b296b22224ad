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
import type { JobSubmission } from '../../../shared/jobs/job-requests.ts';
import type { PlanGate } from '../../../shared/metering/plan-gate.ts';
import type { QuotaService } from '../../../shared/metering/quota-service.ts';
import type { Metrics } from '../../../shared/metrics/metrics.ts';
import type { IdempotencyStore } from './idempotency-store.ts';
import type { JobView } from './job-serializer.ts';
import { requestHash } from './request-hash.ts';
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

/** What a submit would do, found by doing it in a transaction that is always rolled back. */
export interface DryRun {
  estimate: Estimate;
  /** The 402 or 403 the real submit would answer; null: it would be accepted (202). */
  refusal: AppError | null;
}

export interface SubmitJobDeps {
  db: Knex;
  jobs: JobRepository;
  idempotency: IdempotencyStore;
  metrics: Metrics;
  /** FETCH_ALLOW_PRIVATE. */
  allowPrivateHosts: string[];
  /** Metering: `reserve` books the estimate in the submit transaction; over a limit it throws 402. */
  quota: Pick<QuotaService, 'reserve'>;
  /** Metering: throws 403 `upgrade_required` before any write when the plan does not allow the request. */
  gate: PlanGate;
  /** After commit: announce and hand the job to BullMQ (false: left to the reconciler). */
  enqueue(job: JobRow): Promise<boolean>;
  view(job: JobRow): Promise<JobView>;
}

type Claim = { type: 'claimed' } | { type: 'replay'; job: JobRow } | { type: 'retry' };

class RollBack extends Error {}

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

/**
 * The submit use case, top to bottom: authorize → validate → gate → estimate → transaction
 * { idempotency, insert, reserve, audit } → enqueue → view. One transaction writes the
 * idempotency claim, the job (status `queued`, `enqueued_at` null: the outbox marker), the quota
 * reservation and the audit entry; BullMQ is only told after commit. If Redis refuses, the 202
 * still stands: the reconciler enqueues every queued row whose `enqueued_at` is null.
 */
export function createSubmitJob(deps: SubmitJobDeps) {
  const { db, jobs, idempotency: keys } = deps;

  async function submit(
    actor: JobActor,
    s: JobSubmission,
    idempotencyKey: string | null,
  ): Promise<{ job: JobView; replayed: boolean }> {
    // Authorize: render, tts and image need the route's `member` role and nothing more (job-routes.ts).
    // Validate: the URLs a worker will fetch or post to (400 naming the field).
    const urlErrors = unsafeUrlErrors(s, deps.allowPrivateHosts);
    if (urlErrors.length > 0) throw new ValidationError(urlErrors);
    // Gate: the plan's features (403), before any write.
    await deps.gate({ ...s, tenantId: actor.tenantId });
    const estimate = estimateOf(s);
    const idempotency = idempotencyKey ? { key: idempotencyKey, hash: requestHash(s.kind, s.request) } : null;

    // Transaction. A claim that expires between its two statements is retried (at most 3 times).
    for (let i = 0; i < 3; i++) {
      const outcome = await db.transaction(async (trx) => {
        const jobId = newId('job');
        const claim = idempotency
          ? await claimKey(trx, actor, idempotency, jobId)
          : { type: 'claimed' as const };
        if (claim.type !== 'claimed') return claim;
        let job = await insertJob(trx, actor, s, estimate, jobId);
        // The job row exists in `trx`; a 402 here rolls all of this back.
        const { plan } = await deps.quota.reserve(trx, {
          tenantId: actor.tenantId,
          jobId,
          kind: s.kind,
          estimate,
        });
        // Queue priority by plan: the reconciler re-adds the job with the same priority from the row.
        if (plan.priority) {
          await jobs.setPriority(trx, jobId, plan.priority);
          job = { ...job, priority: plan.priority };
        }
        await appendAudit(trx, {
          ...actor.audit,
          tenantId: actor.tenantId,
          action: 'job.submitted',
          targetType: 'job',
          targetId: jobId,
          metadata: { kind: s.kind, estimate, idempotency_key: idempotency?.key ?? null },
        });
        return { type: 'created' as const, job };
      });
      if (outcome.type === 'retry') continue;

      // Enqueue, after commit.
      if (outcome.type === 'created') {
        deps.metrics.jobsSubmitted.inc({ kind: s.kind });
        await deps.enqueue(outcome.job);
      } else if (outcome.job.status === 'queued' && outcome.job.enqueued_at === null) {
        // A replay: the first request may have lost its enqueue to a Redis blip; adding again is a no-op otherwise.
        await deps.enqueue(outcome.job);
      }
      // View.
      return { job: await deps.view(outcome.job), replayed: outcome.type === 'replay' };
    }
    throw new ConflictError('This Idempotency-Key is being replaced concurrently; retry the request');
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
        await insertJob(trx, actor, s, estimate, jobId);
        await deps.quota.reserve(trx, { tenantId: actor.tenantId, jobId, kind: s.kind, estimate });
        throw new RollBack();
      });
    } catch (err) {
      if (err instanceof QuotaExceededError) refusal ??= err;
      else if (!(err instanceof RollBack)) throw err;
    }
    return { estimate, refusal };
  }

  /** Claims the key for `jobId`; a live claim by the same body replays its job, another body is a 409. */
  async function claimKey(
    trx: Knex.Transaction,
    actor: JobActor,
    idempotency: { key: string; hash: string },
    jobId: string,
  ): Promise<Claim> {
    const claimed = await keys.claim(trx, {
      tenantId: actor.tenantId,
      key: idempotency.key,
      requestHash: idempotency.hash,
      jobId,
      ttlSeconds: IDEMPOTENCY_TTL_SECONDS,
    });
    if (claimed) return { type: 'claimed' };
    // A live claim exists (perhaps committed a moment ago by a concurrent twin): read it.
    const existing = await keys.find(trx, actor.tenantId, idempotency.key);
    if (!existing) return { type: 'retry' }; // it expired between the two statements
    if (existing.request_hash !== idempotency.hash) {
      throw new ConflictError(
        'This Idempotency-Key was already used with a different request body; use a new key',
      );
    }
    const original = await jobs.find(trx, actor.tenantId, existing.job_id);
    return original ? { type: 'replay', job: original } : { type: 'retry' };
  }

  function insertJob(
    trx: Knex.Transaction,
    actor: JobActor,
    s: JobSubmission,
    estimate: Estimate,
    id: string,
  ) {
    return jobs.insert(trx, {
      id,
      tenant_id: actor.tenantId,
      kind: s.kind,
      payload: s.request,
      estimate,
      metadata: s.request.metadata,
      callback_url: s.request.callback_url ?? null,
      created_by: actor.actorId,
      priority: 0,
    });
  }

  return { submit, dryRun };
}
