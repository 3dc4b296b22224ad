import type { Knex } from 'knex';
import type { Estimate } from '../../../shared/jobs/estimate.ts';
import type { JobKind } from '../../../shared/queue/queues.ts';

export const JOB_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'canceled'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];
export const FINAL_STATUSES: ReadonlySet<JobStatus> = new Set(['succeeded', 'failed', 'canceled']);

export interface JobRow {
  id: string;
  tenant_id: string;
  kind: JobKind;
  status: JobStatus;
  progress: number;
  attempts: number;
  priority: number;
  payload: unknown;
  estimate: Estimate;
  metadata: Record<string, unknown>;
  callback_url: string | null;
  created_by: string | null;
  error_code: string | null;
  error_message: string | null;
  output_key: string | null;
  output_content_type: string | null;
  output_bytes: number | null;
  output_duration_seconds: number | null;
  output_expires_at: Date | null;
  output_deleted_at: Date | null;
  enqueued_at: Date | null;
  cancel_requested_at: Date | null;
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
  updated_at: Date;
}

export interface JobStepRow {
  job_id: string;
  name: string;
  status: string;
  attempt: number;
  cache_hit: boolean;
  started_at: Date | null;
  finished_at: Date | null;
}

export interface JobUsageRow {
  job_id: string;
  metric: string;
  quantity: number;
}

export interface NewJob {
  id: string;
  tenant_id: string;
  kind: JobKind;
  payload: unknown;
  estimate: Estimate;
  metadata: Record<string, unknown>;
  callback_url: string | null;
  created_by: string | null;
  priority: number;
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

type Db = Knex | Knex.Transaction;

/** Job SQL. Every tenant-facing read is scoped by tenant, so a foreign id reads as absent. */
export function createJobStore() {
  return {
    async insert(trx: Knex.Transaction, job: NewJob): Promise<JobRow> {
      const [row] = await trx('jobs')
        .insert({
          ...job,
          status: 'queued',
          payload: JSON.stringify(job.payload),
          estimate: JSON.stringify(job.estimate),
          metadata: JSON.stringify(job.metadata),
        })
        .returning('*');
      return row as JobRow;
    },

    async find(db: Db, tenantId: string, id: string): Promise<JobRow | null> {
      return ((await db('jobs').where({ tenant_id: tenantId, id }).first()) as JobRow | undefined) ?? null;
    },

    /** Locks the row so a cancel and a worker's status change are serialised. */
    async findForUpdate(trx: Knex.Transaction, tenantId: string, id: string): Promise<JobRow | null> {
      const row = await trx('jobs').where({ tenant_id: tenantId, id }).forUpdate().first();
      return (row as JobRow | undefined) ?? null;
    },

    /** Unscoped: only for signed download links, where the signature names the job. */
    async findById(db: Db, id: string): Promise<JobRow | null> {
      return ((await db('jobs').where({ id }).first()) as JobRow | undefined) ?? null;
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
      return (await q) as Array<JobRow & { position: string }>;
    },

    async steps(db: Db, jobIds: string[]): Promise<JobStepRow[]> {
      if (jobIds.length === 0) return [];
      return db('job_steps')
        .select('job_id', 'name', 'status', 'attempt', 'cache_hit', 'started_at', 'finished_at')
        .whereIn('job_id', jobIds)
        .orderBy([{ column: 'job_id' }, { column: 'position' }]);
    },

    /** Usage per job and metric, summed over steps (the ledger has one row per job, step, metric). */
    async usage(db: Db, tenantId: string, jobIds: string[]): Promise<JobUsageRow[]> {
      if (jobIds.length === 0) return [];
      const rows: Array<Record<string, unknown>> = await db('usage_events')
        .select('job_id', 'metric')
        .sum({ quantity: 'quantity' })
        .where({ tenant_id: tenantId })
        .whereIn('job_id', jobIds)
        .groupBy('job_id', 'metric')
        .orderBy('metric');
      return rows.map((r) => ({
        job_id: String(r.job_id),
        metric: String(r.metric),
        quantity: Number(r.quantity),
      }));
    },

    /** The outbox marker: the BullMQ job is known to exist. */
    async markEnqueued(db: Db, id: string): Promise<void> {
      await db('jobs').update({ enqueued_at: db.fn.now() }).where({ id }).whereNull('enqueued_at');
    },

    async cancelQueued(trx: Knex.Transaction, id: string): Promise<JobRow> {
      const [row] = await trx('jobs')
        .update({
          status: 'canceled',
          finished_at: trx.fn.now(),
          cancel_requested_at: trx.raw('coalesce(cancel_requested_at, now())'),
          updated_at: trx.fn.now(),
        })
        .where({ id, status: 'queued' })
        .returning('*');
      return row as JobRow;
    },

    /** A running job is stopped by its worker, which watches `cancel_requested_at`. */
    async requestCancel(trx: Knex.Transaction, id: string): Promise<JobRow> {
      const [row] = await trx('jobs')
        .update({
          cancel_requested_at: trx.raw('coalesce(cancel_requested_at, now())'),
          updated_at: trx.fn.now(),
        })
        .where({ id })
        .returning('*');
      return row as JobRow;
    },

    /**
     * Claims `key` for this request, or replaces an expired claim. Returns false when a live claim
     * exists. A concurrent claim of the same key waits on the primary key until the other
     * transaction ends, then sees its row: two identical requests never both insert a job.
     */
    async claimIdempotencyKey(
      trx: Knex.Transaction,
      c: { tenantId: string; key: string; requestHash: string; jobId: string; ttlSeconds: number },
    ): Promise<boolean> {
      const { rows } = await trx.raw(
        `INSERT INTO idempotency_keys (tenant_id, key, request_hash, job_id, expires_at)
         VALUES (?, ?, ?, ?, now() + make_interval(secs => ?))
         ON CONFLICT (tenant_id, key) DO UPDATE
           SET request_hash = EXCLUDED.request_hash, job_id = EXCLUDED.job_id, expires_at = EXCLUDED.expires_at
           WHERE idempotency_keys.expires_at <= now()
         RETURNING job_id`,
        [c.tenantId, c.key, c.requestHash, c.jobId, c.ttlSeconds],
      );
      return (rows as unknown[]).length > 0;
    },

    async findIdempotencyKey(
      db: Db,
      tenantId: string,
      key: string,
    ): Promise<{ request_hash: string; job_id: string } | null> {
      const row = await db('idempotency_keys')
        .select('request_hash', 'job_id')
        .where({ tenant_id: tenantId, key })
        .where('expires_at', '>', db.fn.now())
        .first();
      return (row as { request_hash: string; job_id: string } | undefined) ?? null;
    },
  };
}

export type JobStore = ReturnType<typeof createJobStore>;
