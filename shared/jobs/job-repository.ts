import type { Knex } from 'knex';
import type { SqlPart } from '../db/sql-part.ts';
import {
  FINISH,
  type FinalStatus,
  type JobKind,
  type JobOutput,
  type JobRow,
  type JobStatus,
  type JobStepRow,
  type NewJob,
  OPEN_STATUSES,
  TRANSITIONS,
} from './job-contract.ts';

type Db = Knex | Knex.Transaction;

async function markEnqueuedMany(db: Db, ids: string[]): Promise<void> {
  await db('jobs').update({ enqueued_at: db.fn.now() }).whereIn('id', ids).whereNull('enqueued_at');
}

/**
 * The INSERT of new (queued) jobs, each only if `keep` (SQL over the candidate row `j`) holds;
 * returns the rows inserted (`RETURNING *`).
 */
function insertSql(jobs: readonly NewJob[], keep: string): SqlPart {
  return {
    sql: `INSERT INTO jobs (id, tenant_id, kind, status, payload, estimate, metadata, callback_url, created_by, priority)
          SELECT j.id, j.tenant_id, j.kind, 'queued', j.payload, j.estimate, j.metadata, j.callback_url, j.created_by, j.priority
          FROM jsonb_to_recordset(?::jsonb) AS j(id text, tenant_id text, kind text, payload jsonb, estimate jsonb,
               metadata jsonb, callback_url text, created_by text, priority integer)
          WHERE ${keep}
          RETURNING *`,
    bindings: [
      JSON.stringify(
        jobs.map((job) => ({
          id: job.id,
          tenant_id: job.tenant_id,
          kind: job.kind,
          payload: job.payload,
          estimate: job.estimate,
          metadata: job.metadata ?? {},
          callback_url: job.callback_url,
          created_by: job.created_by,
          priority: job.priority,
        })),
      ),
    ],
  };
}

/** Work one step did for another, recorded as its own row (a render's segment). */
export interface SubStep {
  jobId: string;
  /** The step that did it: the row takes its position and attempt. */
  parentStep: string;
  name: string;
  cacheHit: boolean;
  result: unknown;
  startedAt: Date;
}

/** Position in the `(created_at, id)` descending order; `created_at` as exact UTC text (microseconds). */
export interface JobPosition {
  createdAt: string;
  id: string;
}

export interface JobListFilter {
  status?: JobStatus;
  kind?: JobKind;
  limit: number;
  after?: JobPosition;
}

/** A step as the job view shows it. */
export type JobStepView = Pick<
  JobStepRow,
  'job_id' | 'name' | 'status' | 'attempt' | 'cache_hit' | 'voice_engine' | 'started_at' | 'finished_at'
>;

/** A step as the runner resumes from it. */
export type JobStepState = Pick<JobStepRow, 'name' | 'status' | 'attempt' | 'result'>;

/** An open job the reconciler checks against BullMQ. */
export type QuietJob = Pick<
  JobRow,
  'id' | 'tenant_id' | 'kind' | 'priority' | 'status' | 'attempts' | 'enqueued_at' | 'reenqueues' | 'payload'
>;

/** A table the account deletion counts and erases, with the rows of the tenant in it. */
export interface TenantRows {
  kind: string;
  table: string;
  scope: (q: Knex.QueryBuilder) => void;
}

/**
 * The job repository: every statement on `jobs` and `job_steps`, for the API and the workers
 * alike. Status changes are the contract's `TRANSITIONS`, each conditional on its `from`
 * statuses. Tenant-facing reads are scoped by tenant, so a foreign id reads as absent. Each
 * method takes the connection or transaction first: transactions open at the use-case edge.
 */
export function createJobRepository() {
  const first = async (q: Knex.QueryBuilder): Promise<JobRow | null> => (await q.first<JobRow>()) ?? null;

  /** queued|running → running for this attempt, unless a cancel was requested; returns rows changed. */
  const setRunning = (db: Db, jobId: string, attempt: number) =>
    db('jobs')
      .update({
        status: TRANSITIONS.start.to,
        attempts: attempt,
        started_at: db.raw('coalesce(started_at, now())'),
        updated_at: db.fn.now(),
        enqueued_at: db.raw('coalesce(enqueued_at, now())'),
      })
      .where({ id: jobId })
      .whereIn('status', TRANSITIONS.start.from)
      .whereNull('cancel_requested_at');

  return {
    // ---- rows ----------------------------------------------------------------------------

    async insert(trx: Knex.Transaction, job: NewJob): Promise<JobRow> {
      const { sql, bindings } = insertSql([job], 'true');
      const { rows } = await trx.raw<{ rows: JobRow[] }>(sql, bindings);
      const [row] = rows;
      if (!row) throw new Error(`job ${job.id} was not inserted`);
      return row;
    },

    /** The INSERT of new (queued) jobs as a statement for a CTE (see `insertSql`). */
    insertSql,

    /** The queue priority the tenant's plan gives the job (the reconciler re-adds it with the same). */
    async setPriority(trx: Knex.Transaction, id: string, priority: number): Promise<void> {
      await trx('jobs').update({ priority }).where({ id });
    },

    find(db: Db, tenantId: string, id: string): Promise<JobRow | null> {
      return first(db('jobs').where({ tenant_id: tenantId, id }));
    },

    /** Locks the row so a cancel and a worker's status change are serialised. */
    findForUpdate(trx: Knex.Transaction, tenantId: string, id: string): Promise<JobRow | null> {
      return first(trx('jobs').where({ tenant_id: tenantId, id }).forUpdate());
    },

    /** Unscoped: for signed download links (the signature names the job) and worker-side reads by id. */
    findById(db: Db, id: string): Promise<JobRow | null> {
      return first(db('jobs').where({ id }));
    },

    /** The tenant's queued or running job of this kind, locked, if any. */
    findOpenOfKind(trx: Knex.Transaction, tenantId: string, kind: JobKind): Promise<JobRow | null> {
      return first(
        trx('jobs')
          .where({ tenant_id: tenantId, kind })
          .whereIn('status', OPEN_STATUSES)
          .orderBy('created_at', 'desc')
          .forUpdate(),
      );
    },

    /** The tenant's queued or running publish of `sourceJobId` to `destination`, if any. */
    findOpenPublish(
      trx: Knex.Transaction,
      tenantId: string,
      sourceJobId: string,
      destination: string,
    ): Promise<JobRow | null> {
      return first(
        trx('jobs')
          .where({ tenant_id: tenantId, kind: 'publish' })
          .whereIn('status', OPEN_STATUSES)
          .whereRaw('payload @> ?::jsonb', [JSON.stringify({ source_job_id: sourceJobId, destination })]),
      );
    },

    /** Newest first; one row more than `limit` tells the caller whether a next page exists. */
    async list(db: Db, tenantId: string, f: JobListFilter): Promise<Array<JobRow & { position: string }>> {
      const q = db('jobs')
        .select(
          'jobs.*',
          // Text, not a JS Date: a Date drops the microseconds and the cursor would skip rows.
          db.raw(`to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS position`),
        )
        .where({ tenant_id: tenantId })
        .orderBy([
          { column: 'created_at', order: 'desc' },
          { column: 'id', order: 'desc' },
        ])
        .limit(f.limit + 1);
      if (f.status) q.where({ status: f.status });
      if (f.kind) q.where({ kind: f.kind });
      if (f.after) q.whereRaw('(created_at, id) < (?::timestamptz, ?)', [f.after.createdAt, f.after.id]);
      return q;
    },

    /** Ids of the tenant's jobs other than `exceptId`, in id order after `after` (pages of `limit`). */
    async tenantJobIds(
      db: Db,
      p: { tenantId: string; exceptId: string; after: string; limit: number },
    ): Promise<Array<{ id: string; kind: JobKind }>> {
      return db('jobs')
        .select('id', 'kind')
        .where('tenant_id', p.tenantId)
        .whereNot('id', p.exceptId)
        .where('id', '>', p.after)
        .orderBy('id')
        .limit(p.limit);
    },

    /** Open jobs untouched since `quietSeconds` (on Postgres's clock, the one that wrote updated_at). */
    async quietOpenJobs(db: Db, quietSeconds: number, limit: number): Promise<QuietJob[]> {
      return db('jobs')
        .select(
          'id',
          'tenant_id',
          'kind',
          'priority',
          'status',
          'attempts',
          'enqueued_at',
          'reenqueues',
          'payload',
        )
        .whereIn('status', OPEN_STATUSES)
        .where('updated_at', '<=', db.raw('now() - make_interval(secs => ?)', [quietSeconds]))
        .orderBy('updated_at')
        .limit(limit);
    },

    // ---- enqueue and cancel ----------------------------------------------------------------

    /** The outbox marker: the BullMQ job is known to exist. */
    markEnqueued: (db: Db, id: string) => markEnqueuedMany(db, [id]),

    /** `markEnqueued` for many jobs in one statement. */
    markEnqueuedMany,

    /**
     * The reconciler added the job to BullMQ again. `afterFailure`: BullMQ had failed it (stalled
     * too often), which counts towards the reconciler's cap in `jobs.reenqueues`; a job BullMQ had
     * merely lost does not count.
     */
    async markReenqueued(db: Db, id: string, afterFailure: boolean): Promise<void> {
      await db('jobs')
        .update({
          enqueued_at: db.fn.now(),
          updated_at: db.fn.now(),
          ...(afterFailure ? { reenqueues: db.raw('reenqueues + 1') } : {}),
        })
        .where({ id });
    },

    /** `cancelQueued`: queued → canceled. Returns the row, or null when it was no longer queued. */
    async cancelQueued(trx: Knex.Transaction, id: string): Promise<JobRow | null> {
      const [row] = await trx('jobs')
        .update({
          status: TRANSITIONS.cancelQueued.to,
          finished_at: trx.fn.now(),
          cancel_requested_at: trx.raw('coalesce(cancel_requested_at, now())'),
          updated_at: trx.fn.now(),
        })
        .where({ id })
        .whereIn('status', TRANSITIONS.cancelQueued.from)
        .returning<JobRow[]>('*');
      return row ?? null;
    },

    /** A running job is stopped by its worker, which watches `cancel_requested_at`. */
    async requestCancel(trx: Knex.Transaction, id: string): Promise<JobRow | null> {
      const [row] = await trx('jobs')
        .update({
          cancel_requested_at: trx.raw('coalesce(cancel_requested_at, now())'),
          updated_at: trx.fn.now(),
        })
        .where({ id })
        .returning<JobRow[]>('*');
      return row ?? null;
    },

    /** The account deletion: the tenant's other queued jobs are canceled, running ones asked to stop. */
    async cancelTenantJobs(
      db: Db,
      tenantId: string,
      exceptId: string,
    ): Promise<{ canceled: number; stopping: number }> {
      const others = () => db('jobs').where({ tenant_id: tenantId }).whereNot({ id: exceptId });
      const canceled = await others()
        .whereIn('status', TRANSITIONS.cancelQueued.from)
        .update({
          status: TRANSITIONS.cancelQueued.to,
          finished_at: db.fn.now(),
          updated_at: db.fn.now(),
          cancel_requested_at: db.raw('coalesce(cancel_requested_at, now())'),
        });
      const stopping = await others()
        .where({ status: 'running' })
        .update({
          cancel_requested_at: db.raw('coalesce(cancel_requested_at, now())'),
          updated_at: db.fn.now(),
        });
      return { canceled, stopping };
    },

    async cancelRequested(db: Db, jobId: string): Promise<boolean> {
      const row = await db('jobs').select('cancel_requested_at', 'status').where({ id: jobId }).first();
      return !row || row.cancel_requested_at !== null || row.status === 'canceled';
    },

    // ---- running ---------------------------------------------------------------------------

    /** `start`. Returns false if the job is no longer open (or a cancel was requested). */
    async markRunning(db: Db, jobId: string, attempt: number): Promise<boolean> {
      return (await setRunning(db, jobId, attempt)) > 0;
    },

    /**
     * Like markRunning, but only while the tenant has fewer than `limit` renders running. The
     * per-tenant advisory lock makes count-then-update atomic across every worker.
     */
    async markRunningWithinLimit(
      db: Knex,
      p: { jobId: string; tenantId: string; attempt: number; limit: number },
    ): Promise<'running' | 'wait' | 'gone'> {
      return db.transaction(async (trx) => {
        await trx.raw('SELECT pg_advisory_xact_lock(hashtext(?))', [`renders:${p.tenantId}`]);
        const row = await trx('jobs')
          .where({ tenant_id: p.tenantId, kind: 'render', status: 'running' })
          .whereNot({ id: p.jobId })
          .count({ n: '*' })
          .first();
        if (Number(row?.n ?? 0) >= p.limit) return 'wait';
        return (await setRunning(trx, p.jobId, p.attempt)) > 0 ? 'running' : 'gone';
      });
    },

    /** Progress never goes backwards, whatever order concurrent updates land in. */
    async progress(db: Db, jobId: string, value: number): Promise<void> {
      const v = Math.max(0, Math.min(1, value));
      await db('jobs')
        .update({ progress: db.raw('greatest(progress, ?)', [v]), updated_at: db.fn.now() })
        .where({ id: jobId })
        .whereIn('status', OPEN_STATUSES);
    },

    /** Records the file a step produced; it expires after `retentionMs` unless the output says otherwise. */
    async setOutput(
      trx: Knex.Transaction,
      jobId: string,
      output: JobOutput,
      retentionMs: number,
    ): Promise<void> {
      await trx('jobs')
        .update({
          output_key: output.key,
          output_content_type: output.contentType,
          output_bytes: output.bytes,
          output_duration_seconds: output.durationSeconds ?? null,
          output_expires_at: output.expiresAt ?? new Date(Date.now() + retentionMs),
          output_deleted_at: null,
        })
        .where({ id: jobId });
    },

    /** `succeed` / `fail` / `cancel`: only from an open status, so a late duplicate can't overwrite it. */
    async finish(
      trx: Knex.Transaction,
      jobId: string,
      status: FinalStatus,
      error?: { code: string; message: string },
    ): Promise<boolean> {
      const n = await trx('jobs')
        .update({
          status: FINISH[status].to,
          finished_at: trx.fn.now(),
          updated_at: trx.fn.now(),
          ...(status === 'succeeded' ? { progress: 1 } : {}),
          ...(error ? { error_code: error.code, error_message: error.message.slice(0, 1000) } : {}),
        })
        .where({ id: jobId })
        .whereIn('status', FINISH[status].from);
      return n > 0;
    },

    // ---- outputs -----------------------------------------------------------------------------

    /** Outputs past their retention and not yet deleted. */
    async expiredOutputs(
      db: Db,
      limit: number,
    ): Promise<Array<{ id: string; tenant_id: string; output_key: string; output_bytes: number | null }>> {
      return db('jobs')
        .select<Array<{ id: string; tenant_id: string; output_key: string; output_bytes: number | null }>>(
          'id',
          'tenant_id',
          'output_key',
          'output_bytes',
        )
        .whereNotNull('output_key')
        .whereNull('output_deleted_at')
        .where('output_expires_at', '<=', db.fn.now())
        .limit(limit);
    },

    /** Marks an output deleted; false when another sweep got there first. */
    async markOutputDeleted(trx: Knex.Transaction, id: string): Promise<boolean> {
      const n = await trx('jobs')
        .update({ output_deleted_at: trx.fn.now() })
        .where({ id })
        .whereNull('output_deleted_at');
      return n > 0;
    },

    // ---- steps -------------------------------------------------------------------------------

    /** Steps of several jobs for their views, in step order. */
    async stepViews(db: Db, jobIds: string[]): Promise<JobStepView[]> {
      if (jobIds.length === 0) return [];
      return db('job_steps')
        .select(
          'job_id',
          'name',
          'status',
          'attempt',
          'cache_hit',
          'voice_engine',
          'started_at',
          'finished_at',
        )
        .whereIn('job_id', jobIds)
        .orderBy([{ column: 'job_id' }, { column: 'position' }, { column: 'name' }]);
    },

    /** One job's steps with their results, in order: what a retry resumes from. */
    async steps(db: Db, jobId: string): Promise<JobStepState[]> {
      return db('job_steps')
        .select('name', 'status', 'attempt', 'result')
        .where({ job_id: jobId })
        .orderBy('position');
    },

    async startStep(
      db: Db,
      s: { jobId: string; name: string; position: number; attempt: number },
    ): Promise<void> {
      await db('job_steps')
        .insert({
          job_id: s.jobId,
          name: s.name,
          position: s.position,
          status: 'running',
          attempt: s.attempt,
          started_at: db.fn.now(),
          error: null,
        })
        .onConflict(['job_id', 'name'])
        .merge({
          status: 'running',
          attempt: s.attempt,
          started_at: db.fn.now(),
          finished_at: null,
          error: null,
        });
    },

    async finishStep(
      trx: Knex.Transaction,
      jobId: string,
      name: string,
      outcome: { result: unknown; cacheHit: boolean; voiceEngine?: string },
    ): Promise<void> {
      await trx('job_steps')
        .update({
          status: 'succeeded',
          result: JSON.stringify(outcome.result ?? null),
          cache_hit: outcome.cacheHit,
          voice_engine: outcome.voiceEngine ?? null,
          finished_at: trx.fn.now(),
        })
        .where({ job_id: jobId, name });
    },

    /** The job's `result` (what it produced besides a file), written with the step that produced it. */
    async setResult(trx: Knex.Transaction, jobId: string, result: Record<string, unknown>): Promise<void> {
      await trx('jobs')
        .update({ result: JSON.stringify(result), updated_at: trx.fn.now() })
        .where({ id: jobId });
    },

    /**
     * A running step's own progress (`result` before it finishes), for steps that must survive a
     * crash mid-way (an upload session): written as the step goes, read back by the next attempt.
     * The runner overwrites it with the final result when the step succeeds.
     */
    async saveStepState(db: Db, jobId: string, name: string, state: unknown): Promise<void> {
      await db('job_steps')
        .update({ result: JSON.stringify(state) })
        .where({ job_id: jobId, name, status: 'running' });
    },

    /** What {@link saveStepState} last wrote for the step (any status), or null. */
    async stepState(db: Db, jobId: string, name: string): Promise<unknown> {
      const row = await db('job_steps').select('result').where({ job_id: jobId, name }).first();
      return row?.result ?? null;
    },

    /**
     * Records work another step did for the job as its own succeeded row (a render's segment),
     * next to the step that made it (same position and attempt), so the job view shows
     * `cache_hit` per piece. A repeat (a retry) overwrites the row.
     */
    async recordSubStep(db: Db, row: SubStep): Promise<void> {
      const parent = db('job_steps').where({ job_id: row.jobId, name: row.parentStep });
      await db('job_steps')
        .insert({
          job_id: row.jobId,
          name: row.name,
          position: parent.clone().select('position'),
          attempt: parent.clone().select('attempt'),
          status: 'succeeded',
          cache_hit: row.cacheHit,
          result: JSON.stringify(row.result),
          started_at: row.startedAt,
          finished_at: db.fn.now(),
        })
        .onConflict(['job_id', 'name'])
        .merge(['attempt', 'status', 'cache_hit', 'result', 'started_at', 'finished_at']);
    },

    /** The succeeded steps of a job whose name starts with `prefix`, by name, with their results (unparsed). */
    async succeededStepResults(db: Db, jobId: string, prefix: string): Promise<Map<string, unknown>> {
      const rows = await db('job_steps')
        .select('name', 'result')
        .where({ job_id: jobId, status: 'succeeded' })
        .where('name', 'like', `${prefix}%`);
      return new Map(rows.map((r) => [r.name, r.result]));
    },

    async failStep(db: Db, jobId: string, name: string, error: string): Promise<void> {
      await db('job_steps')
        .update({ status: 'failed', error: error.slice(0, 1000), finished_at: db.fn.now() })
        .where({ job_id: jobId, name, status: 'running' });
    },

    // ---- account export ------------------------------------------------------------------

    /**
     * The tenant's jobs as the GDPR export shows them, by name: a column added later stays out
     * of the export until it is added here on purpose. A builder, for the export's time paging.
     */
    exportJobs(db: Db, tenantId: string) {
      return db('jobs')
        .select(
          'id',
          'kind',
          'status',
          'progress',
          'attempts',
          'payload',
          'estimate',
          'metadata',
          'callback_url',
          'created_by',
          'error_code',
          'error_message',
          'output_key',
          'output_content_type',
          'output_bytes',
          'output_duration_seconds',
          'output_expires_at',
          'output_deleted_at',
          // A publish job's video id and URL: the tenant's own record of where its video went.
          'result',
          'created_at',
          'started_at',
          'finished_at',
        )
        .where({ tenant_id: tenantId });
    },

    /** The steps of exported jobs, in job and step order (their results stay out). */
    exportSteps(db: Db, jobIds: string[]) {
      return db('job_steps')
        .select(
          'job_id',
          'name',
          'position',
          'status',
          'attempt',
          'cache_hit',
          'error',
          'started_at',
          'finished_at',
        )
        .whereIn('job_id', jobIds)
        .orderBy([{ column: 'job_id' }, { column: 'position' }]);
    },

    /** Outputs still held. Earlier exports are left out: each would nest every previous one. */
    heldOutputs(
      db: Db,
      tenantId: string,
    ): Promise<
      Array<{
        job_id: string;
        kind: string;
        key: string;
        content_type: string | null;
        expires_at: Date | null;
      }>
    > {
      return db('jobs')
        .select(
          'id as job_id',
          'kind',
          'output_key as key',
          'output_content_type as content_type',
          'output_expires_at as expires_at',
        )
        .where({ tenant_id: tenantId })
        .whereNotNull('output_key')
        .whereNull('output_deleted_at')
        .whereNotIn('kind', ['export', 'deletion'])
        .orderBy([{ column: 'created_at' }, { column: 'id' }]);
    },

    // ---- account deletion ----------------------------------------------------------------

    /**
     * The tenant's jobs and steps for the deletion to count and erase, children first. The
     * running deletion job (`selfJobId`) and its steps stay until `deleteJob` in the last step:
     * the runner records progress in them.
     */
    tenantRows(db: Db, tenantId: string, selfJobId: string): TenantRows[] {
      const otherJobs = () => db('jobs').select('id').where('tenant_id', tenantId).whereNot('id', selfJobId);
      return [
        { kind: 'job_steps', table: 'job_steps', scope: (q) => q.whereIn('job_id', otherJobs()) },
        {
          kind: 'jobs',
          table: 'jobs',
          scope: (q) => q.where('tenant_id', tenantId).whereNot('id', selfJobId),
        },
      ];
    },

    /** Removes a job and its steps (the account deletion's own row, in its final transaction). */
    async deleteJob(trx: Knex.Transaction, id: string): Promise<void> {
      await trx('job_steps').where({ job_id: id }).delete();
      await trx('jobs').where({ id }).delete();
    },
  };
}

export type JobRepository = ReturnType<typeof createJobRepository>;
