import type { Knex } from 'knex';
import { type AuditEntry, appendAuditSql } from '../../../shared/audit/audit-log.ts';
import type { Role } from '../../../shared/auth/roles.ts';
import { joinSql, queryPrepared, type SqlPart } from '../../../shared/db/sql-part.ts';
import type { AppError } from '../../../shared/errors/app-error.ts';
import {
  ConflictError,
  QuotaExceededError,
  UpgradeRequiredError,
  ValidationError,
} from '../../../shared/errors/http-errors.ts';
import { newId } from '../../../shared/ids/ids.ts';
import {
  type Estimate,
  estimateImage,
  estimateRender,
  estimateTts,
  METRICS,
  type Metric,
} from '../../../shared/jobs/estimate.ts';
import type { JobRow, NewJob } from '../../../shared/jobs/job-contract.ts';
import type { JobRepository } from '../../../shared/jobs/job-repository.ts';
import type { JobSubmission } from '../../../shared/jobs/job-requests.ts';
import type { PlanGate } from '../../../shared/metering/plan-gate.ts';
import type { Plan, PlanCatalogue } from '../../../shared/metering/plans.ts';
import type { QuotaService } from '../../../shared/metering/quota-service.ts';
import { effectivePlanName } from '../../../shared/metering/tenant-plan.ts';
import type { Metrics } from '../../../shared/metrics/metrics.ts';
import type { Generation } from '../auth/auth-cache.ts';
import type { IdempotencyStore } from './idempotency-store.ts';
import { type JobView, serializeJob } from './job-serializer.ts';
import { requestHash } from './request-hash.ts';
import type { TenantState, TenantStateReader } from './tenant-state.ts';
import { unsafeUrlErrors } from './unsafe-url-errors.ts';

/** Who acts: the tenant, the user or key id (stored as `created_by`), and the request's audit fields. */
export interface JobActor {
  tenantId: string;
  actorId: string | null;
  /** The caller's role: some job kinds need more than the route's minimum (exports, deletions). */
  role?: Role;
  audit: Pick<AuditEntry, 'actorType' | 'actorId' | 'requestId' | 'ip'>;
  /** The tenant generation the request was authorized at (auth-cache.ts); absent: read Postgres. */
  generation?: Generation;
}

/** Keys live 24 h per tenant (README: Jobs API); an expired key is replaced by the next request using it. */
export const IDEMPOTENCY_TTL_SECONDS = 24 * 3600;

/** What a submit would do, found by doing it in a transaction that is always rolled back. */
export interface DryRun {
  estimate: Estimate;
  /** The 402 or 403 the real submit would answer; null: it would be accepted (202). */
  refusal: AppError | null;
  /** The plan whose limits and prices applied. */
  plan: Plan;
}

export interface SubmitJobDeps {
  db: Knex;
  jobs: JobRepository;
  idempotency: IdempotencyStore;
  metrics: Metrics;
  /** FETCH_ALLOW_PRIVATE. */
  allowPrivateHosts: string[];
  /** PUBLIC_URL, without a trailing slash (job links in the view). */
  publicUrl: string;
  /**
   * Metering: `prepare` works out the booking the submit statement makes (402 over a storage
   * limit); `reserve` books in the estimate's rolled-back transaction.
   */
  quota: Pick<QuotaService, 'prepare' | 'reserve'>;
  /** Metering: throws 403 `upgrade_required` before any write when the plan does not allow the request. */
  gate: PlanGate;
  plans: PlanCatalogue;
  /** The tenant's plan columns and default endpoint, cached per tenant generation. */
  tenantState: TenantStateReader;
  /** After commit: announce and hand the job to BullMQ (false: left to the reconciler). */
  enqueue(job: JobRow, tenant: TenantState): Promise<boolean>;
  view(job: JobRow): Promise<JobView>;
}

type Claim = { type: 'replay'; job: JobRow } | { type: 'retry' };

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
    // Gate: the plan's features (403), before any write. The plan is read once for the request.
    const tenant = await deps.tenantState(actor.tenantId, actor.generation);
    const plan = deps.plans.get(effectivePlanName(tenant.billing));
    deps.gate(s, plan);
    const estimate = estimateOf(s);
    const idempotency = idempotencyKey ? { key: idempotencyKey, hash: requestHash(s.kind, s.request) } : null;

    // Transaction. A claim that expires between its two statements is retried (at most 3 times).
    for (let i = 0; i < 3; i++) {
      const outcome = await accept(actor, s, estimate, plan, idempotency);
      if (outcome.type === 'retry') continue;

      // Enqueue, after commit.
      if (outcome.type === 'created') {
        deps.metrics.jobsSubmitted.inc({ kind: s.kind });
        await deps.enqueue(outcome.job, tenant);
        // View: a job created a moment ago has no steps and no usage yet; nothing to read.
        return {
          job: serializeJob(outcome.job, { steps: [], usage: [], publicUrl: deps.publicUrl }),
          replayed: false,
        };
      }
      if (outcome.job.status === 'queued' && outcome.job.enqueued_at === null) {
        // A replay: the first request may have lost its enqueue to a Redis blip; adding again is a no-op otherwise.
        await deps.enqueue(outcome.job, tenant);
      }
      return { job: await deps.view(outcome.job), replayed: true };
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
    const tenant = await deps.tenantState(actor.tenantId, actor.generation);
    const plan = deps.plans.get(effectivePlanName(tenant.billing));
    try {
      deps.gate(s, plan);
    } catch (err) {
      if (!(err instanceof UpgradeRequiredError)) throw err;
      refusal = err;
    }
    const estimate = estimateOf(s);
    try {
      await db.transaction(async (trx) => {
        const jobId = newId('job');
        await insertJob(trx, actor, s, estimate, jobId, plan.priority);
        await deps.quota.reserve(trx, { tenantId: actor.tenantId, jobId, kind: s.kind, estimate, plan });
        throw new RollBack();
      });
    } catch (err) {
      if (err instanceof QuotaExceededError) refusal ??= err;
      else if (!(err instanceof RollBack)) throw err;
    }
    return { estimate, refusal, plan };
  }

  /**
   * The transaction, as one statement: one round trip instead of six, and Postgres runs it as
   * its own transaction. Each table's owner writes its part (idempotency claim, counters upsert
   * and reservation record, job insert, audit entry); each part runs only if the one before it
   * did. A reservation that does not fit raises RM402 (migration 20261202060000), which undoes
   * every part, counters included; the 402 is then built from the counter as it stands.
   */
  async function accept(
    actor: JobActor,
    s: JobSubmission,
    estimate: Estimate,
    plan: Plan,
    idempotency: { key: string; hash: string } | null,
  ): Promise<Claim | { type: 'created'; job: JobRow }> {
    const jobId = newId('job');
    const tenantId = actor.tenantId;
    // Reads the storage counter when the plan has a hard storage limit (402 before any write).
    const reservation = await deps.quota.prepare(db, { tenantId, jobId, kind: s.kind, estimate, plan });
    const booking = reservation.metrics.length > 0;
    const part = (sql: string, ...bindings: SqlPart['bindings']): SqlPart => ({ sql, bindings });
    const ctes: Array<[string, SqlPart]> = idempotency
      ? [
          [
            'claim',
            keys.claimSql({
              tenantId,
              key: idempotency.key,
              requestHash: idempotency.hash,
              jobId,
              ttlSeconds: IDEMPOTENCY_TTL_SECONDS,
            }),
          ],
          ['claimed', part('SELECT EXISTS (SELECT 1 FROM claim) AS ok')],
        ]
      : [['claimed', part('SELECT true AS ok')]];
    if (booking) {
      ctes.push(['reserved', reservation.counters('(SELECT ok FROM claimed)')]);
      ctes.push([
        'fits',
        part(
          'SELECT (SELECT ok FROM claimed) AND (SELECT count(*) FROM reserved) = ? AS ok',
          reservation.metrics.length,
        ),
      ]);
    } else {
      ctes.push(['fits', part('SELECT ok FROM claimed')]);
    }
    // Queue priority by plan: the reconciler re-adds the job with the same priority from the row.
    ctes.push([
      'job',
      jobs.insertSql(newJob(actor, s, estimate, jobId, plan.priority), '(SELECT ok FROM fits)'),
    ]);
    if (booking) ctes.push(['reservation', reservation.record(part('SELECT id, tenant_id FROM job'))]);
    const entry: AuditEntry = {
      ...actor.audit,
      tenantId,
      action: 'job.submitted',
      targetType: 'job',
      targetId: jobId,
      metadata: { kind: s.kind, estimate, idempotency_key: idempotency?.key ?? null },
    };
    ctes.push(['audit', appendAuditSql(entry, 'EXISTS (SELECT 1 FROM job)')]);
    // Claimed but not booked: raise, so the statement undoes the counters it did raise.
    const refuse = booking
      ? part(
          `CASE WHEN c.ok AND NOT (SELECT ok FROM fits) THEN rendermill_refuse('quota',
             (SELECT min(m) FROM unnest(?::text[]) AS m WHERE m NOT IN (SELECT metric FROM reserved))) END`,
          reservation.metrics,
        )
      : part('NULL');
    const statement = joinSql(
      [
        part('WITH'),
        joinSql(
          ctes.map(([name, p]) => part(`${name} AS (${p.sql})`, ...p.bindings)),
          ',\n',
        ),
        part(
          `SELECT c.ok AS rm_claimed, ${refuse.sql} AS rm_refused, j.* FROM claimed c LEFT JOIN job j ON true`,
          ...refuse.bindings,
        ),
      ],
      '\n',
    );
    let row: (JobRow & { rm_claimed: boolean; rm_refused: unknown }) | undefined;
    try {
      [row] = await queryPrepared<JobRow & { rm_claimed: boolean; rm_refused: unknown }>(db, statement);
    } catch (err) {
      if (isQuotaRefusal(err)) throw await reservation.refusal(db, err.detail);
      throw err;
    }
    if (!row) throw new Error('the submit statement returned no row');
    const { rm_claimed: claimed, rm_refused: _refused, ...job } = row;
    if (claimed) return { type: 'created', job };
    return idempotency ? replayOf(actor, idempotency) : { type: 'retry' };
  }

  /** A live claim exists (perhaps committed a moment ago by a concurrent twin): its job is replayed, another body is a 409. */
  async function replayOf(actor: JobActor, idempotency: { key: string; hash: string }): Promise<Claim> {
    const existing = await keys.find(db, actor.tenantId, idempotency.key);
    if (!existing) return { type: 'retry' }; // it expired between the two statements
    if (existing.request_hash !== idempotency.hash) {
      throw new ConflictError(
        'This Idempotency-Key was already used with a different request body; use a new key',
      );
    }
    const original = await jobs.find(db, actor.tenantId, existing.job_id);
    return original ? { type: 'replay', job: original } : { type: 'retry' };
  }

  function insertJob(
    trx: Knex.Transaction,
    actor: JobActor,
    s: JobSubmission,
    estimate: Estimate,
    id: string,
    priority: number,
  ) {
    return jobs.insert(trx, newJob(actor, s, estimate, id, priority));
  }

  function newJob(
    actor: JobActor,
    s: JobSubmission,
    estimate: Estimate,
    id: string,
    priority: number,
  ): NewJob {
    return {
      id,
      tenant_id: actor.tenantId,
      kind: s.kind,
      payload: s.request,
      estimate,
      metadata: s.request.metadata,
      callback_url: s.request.callback_url ?? null,
      created_by: actor.actorId,
      priority,
    };
  }

  return { submit, dryRun };
}

/** The submit statement's RM402: the reservation did not fit; `detail` names the metric. */
function isQuotaRefusal(err: unknown): err is { detail: Metric } {
  if (typeof err !== 'object' || err === null) return false;
  const { code, detail } = err as { code?: unknown; detail?: unknown };
  return code === 'RM402' && typeof detail === 'string' && (METRICS as readonly string[]).includes(detail);
}
