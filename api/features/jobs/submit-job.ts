import type { Knex } from 'knex';
import pg from 'pg';
import { createGroupCommit } from '../../../shared/async/group-commit.ts';
import { type AuditEntry, appendAuditSql } from '../../../shared/audit/audit-log.ts';
import type { Role } from '../../../shared/auth/roles.ts';
import { databaseUnavailableReason } from '../../../shared/db/database-unavailable.ts';
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
import {
  bookingSql,
  type PreparedReservation,
  type QuotaService,
} from '../../../shared/metering/quota-service.ts';
import { effectivePlanName } from '../../../shared/metering/tenant-plan.ts';
import type { Metrics } from '../../../shared/metrics/metrics.ts';
import type { Generation } from '../auth/auth-cache.ts';
import type { Claim as IdempotencyClaim, IdempotencyStore } from './idempotency-store.ts';
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
  /**
   * Group commit of concurrent submissions: at most `maxInFlight` statements at a time (default
   * 4; each holds a pooled connection), each for up to `maxItems` submissions (default 32).
   */
  groupCommit?: { maxInFlight: number; maxItems: number };
}

type Claim = { type: 'replay'; job: JobRow } | { type: 'retry' };

/** One submission's writes, waiting for its group's statement. */
interface Pending {
  job: NewJob;
  reservation: PreparedReservation;
  claim: IdempotencyClaim | null;
  audit: AuditEntry;
}

/** What the statement did for one submission: claimed (or no key), and the row when inserted. */
interface Written {
  claimed: boolean;
  job: JobRow | null;
}

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
   * The transaction, as one statement, for many submissions at once (group commit: submissions
   * arriving while earlier ones are being written share the next statement, so its round trip,
   * commit and WAL flush are paid once per group; alone, a submission waits for nothing). Each
   * table's owner writes its part for all of them (idempotency claims, the counters' conditional
   * upsert and the reservation records, the job inserts, the audit entries); each submission's
   * part runs only if its part before did. A reservation that does not fit raises RM402
   * (migration 20261202060000), which undoes every part, counters included.
   */
  function acceptSql(items: readonly Pending[]): SqlPart {
    const part = (sql: string, ...bindings: SqlPart['bindings']): SqlPart => ({ sql, bindings });
    const ids = items.map((i) => i.job.id);
    const booking = bookingSql(
      items.map((i) => i.reservation),
      part('SELECT id FROM claimed'),
    );
    const ctes: Array<[string, SqlPart]> = [
      ['claim', keys.claimSql(items.flatMap((i) => (i.claim ? [i.claim] : [])))],
      [
        'claimed',
        part(
          `SELECT i.id FROM unnest(?::text[], ?::boolean[]) AS i(id, keyed)
           WHERE NOT i.keyed OR i.id IN (SELECT job_id FROM claim)`,
          ids,
          items.map((i) => i.claim !== null),
        ),
      ],
      ['reserved', booking.counters],
      ['unbooked', booking.unbooked('reserved')],
      // Queue priority by plan: the reconciler re-adds the job with the same priority from the row.
      [
        'job',
        jobs.insertSql(
          items.map((i) => i.job),
          'j.id IN (SELECT id FROM claimed) AND NOT EXISTS (SELECT 1 FROM unbooked)',
        ),
      ],
      ['reservation', booking.record(part('SELECT id FROM job'))],
      [
        'audit',
        appendAuditSql(
          items.map((i) => i.audit),
          'a.target_id IN (SELECT id FROM job)',
        ),
      ],
    ];
    // One row per submission, in order. Claimed but not booked: raise, so the statement undoes
    // the counters it did raise (an aggregate with HAVING: no row, no call, when all fit).
    return joinSql(
      [
        part('WITH'),
        joinSql(
          ctes.map(([name, p]) => part(`${name} AS (${p.sql})`, ...p.bindings)),
          ',\n',
        ),
        part(
          `SELECT i.id AS rm_id, i.id IN (SELECT id FROM claimed) AS rm_claimed,
             (SELECT rendermill_refuse('quota', min(u.metric)) FROM unbooked u HAVING count(*) > 0) AS rm_refused,
             j.*
           FROM unnest(?::text[]) WITH ORDINALITY AS i(id, n) LEFT JOIN job j ON j.id = i.id
           ORDER BY i.n`,
          ids,
        ),
      ],
      '\n',
    );
  }

  async function write(items: readonly Pending[]): Promise<Written[]> {
    const rows = await queryPrepared<JobRow & { rm_id: string; rm_claimed: boolean; rm_refused: unknown }>(
      db,
      acceptSql(items),
    );
    if (rows.length !== items.length) {
      throw new Error(`the submit statement returned ${rows.length} rows for ${items.length} submissions`);
    }
    return rows.map(({ rm_id: _id, rm_claimed: claimed, rm_refused: _refused, ...job }) => ({
      claimed,
      job: job.id ? job : null,
    }));
  }

  /** A submission written alone: RM402 becomes its 402, built from the counter as it stands. */
  async function writeAlone(item: Pending): Promise<Written> {
    try {
      const [written] = await write([item]);
      return written!;
    } catch (err) {
      if (isQuotaRefusal(err)) throw await item.reservation.refusal(db, err.detail);
      throw err;
    }
  }

  const group = createGroupCommit<Pending, Written>({
    maxInFlight: deps.groupCommit?.maxInFlight ?? 4,
    maxItems: deps.groupCommit?.maxItems ?? 32,
    // Postgres refuses to claim one key twice in a statement; the second waits for the next.
    conflictKey: (i) => (i.claim ? `${i.claim.tenantId}\u0000${i.claim.key}` : null),
    onGroup: (size) => deps.metrics.submitGroupSize.observe(size),
    async write(items) {
      if (items.length === 1) return Promise.allSettled([writeAlone(items[0]!)]);
      try {
        return (await write(items)).map((value) => ({ status: 'fulfilled', value }));
      } catch (err) {
        // Only a statement Postgres answered with an error is known not to have committed. A
        // lost connection may have lost the answer to a commit: writing again could make every
        // submission without an Idempotency-Key twice, so the whole group fails (503) instead.
        if (!(err instanceof pg.DatabaseError) || databaseUnavailableReason(err) !== null) throw err;
        // One submission can fail its group (over its quota, or a value Postgres refuses):
        // each is written again alone, so only its own failure is its answer.
        return Promise.allSettled(items.map(writeAlone));
      }
    },
  });

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
    deps.metrics.submitWaiting.inc();
    const written = await group
      .run({
        job: newJob(actor, s, estimate, jobId, plan.priority),
        reservation,
        claim: idempotency
          ? {
              tenantId,
              key: idempotency.key,
              requestHash: idempotency.hash,
              jobId,
              ttlSeconds: IDEMPOTENCY_TTL_SECONDS,
            }
          : null,
        audit: {
          ...actor.audit,
          tenantId,
          action: 'job.submitted',
          targetType: 'job',
          targetId: jobId,
          metadata: { kind: s.kind, estimate, idempotency_key: idempotency?.key ?? null },
        },
      })
      .finally(() => deps.metrics.submitWaiting.dec());
    if (written.claimed && written.job) return { type: 'created', job: written.job };
    if (written.claimed) throw new Error(`job ${jobId} was claimed but not inserted`);
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
