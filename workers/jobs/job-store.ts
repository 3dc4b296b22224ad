import type { Knex } from 'knex';
import type { JobRow } from './step.ts';

export interface StepRow {
  name: string;
  status: 'running' | 'succeeded' | 'failed';
  attempt: number;
  result: unknown;
}

/** Worker-side SQL of jobs and steps. Every write is conditional on the job still being open. */
export function createJobStore(db: Knex) {
  const open = ['queued', 'running'];
  /** queued|running → running for this attempt, unless canceled meanwhile; returns rows changed. */
  const setRunning = (q: Knex | Knex.Transaction, jobId: string, attempt: number) =>
    q('jobs')
      .update({
        status: 'running',
        attempts: attempt,
        started_at: q.raw('coalesce(started_at, now())'),
        updated_at: q.fn.now(),
        enqueued_at: q.raw('coalesce(enqueued_at, now())'),
      })
      .where({ id: jobId })
      .whereIn('status', open)
      .whereNull('cancel_requested_at');
  return {
    async load(jobId: string, tenantId: string): Promise<JobRow | undefined> {
      return db('jobs').where({ id: jobId, tenant_id: tenantId }).first();
    },

    /** queued|running → running for this attempt. Returns false if the job is no longer open. */
    async markRunning(jobId: string, attempt: number): Promise<boolean> {
      return (await setRunning(db, jobId, attempt)) > 0;
    },

    /**
     * Like markRunning, but only while the tenant has fewer than `limit` renders running. The
     * per-tenant advisory lock makes count-then-update atomic across every worker.
     */
    async markRunningWithinLimit(
      jobId: string,
      tenantId: string,
      attempt: number,
      limit: number,
    ): Promise<'running' | 'wait' | 'gone'> {
      return db.transaction(async (trx) => {
        await trx.raw('SELECT pg_advisory_xact_lock(hashtext(?))', [`renders:${tenantId}`]);
        const row = await trx('jobs')
          .where({ tenant_id: tenantId, kind: 'render', status: 'running' })
          .whereNot({ id: jobId })
          .count({ n: '*' })
          .first();
        if (Number(row?.n ?? 0) >= limit) return 'wait';
        return (await setRunning(trx, jobId, attempt)) > 0 ? 'running' : 'gone';
      });
    },

    async steps(jobId: string): Promise<StepRow[]> {
      return db('job_steps')
        .select('name', 'status', 'attempt', 'result')
        .where({ job_id: jobId })
        .orderBy('position');
    },

    async startStep(jobId: string, name: string, position: number, attempt: number): Promise<void> {
      await db('job_steps')
        .insert({
          job_id: jobId,
          name,
          position,
          status: 'running',
          attempt,
          started_at: db.fn.now(),
          error: null,
        })
        .onConflict(['job_id', 'name'])
        .merge({ status: 'running', attempt, started_at: db.fn.now(), finished_at: null, error: null });
    },

    async finishStep(
      trx: Knex.Transaction,
      jobId: string,
      name: string,
      outcome: { result: unknown; cacheHit: boolean },
    ): Promise<void> {
      await trx('job_steps')
        .update({
          status: 'succeeded',
          result: JSON.stringify(outcome.result ?? null),
          cache_hit: outcome.cacheHit,
          finished_at: trx.fn.now(),
        })
        .where({ job_id: jobId, name });
    },

    async failStep(jobId: string, name: string, error: string): Promise<void> {
      await db('job_steps')
        .update({ status: 'failed', error: error.slice(0, 1000), finished_at: db.fn.now() })
        .where({ job_id: jobId, name, status: 'running' });
    },

    /** Progress never goes backwards, whatever order concurrent updates land in. */
    async progress(db2: Knex | Knex.Transaction, jobId: string, value: number): Promise<void> {
      const v = Math.max(0, Math.min(1, value));
      await db2('jobs')
        .update({ progress: db2.raw('greatest(progress, ?)', [v]), updated_at: db2.fn.now() })
        .where({ id: jobId })
        .whereIn('status', open);
    },

    async cancelRequested(jobId: string): Promise<boolean> {
      const row = await db('jobs').select('cancel_requested_at', 'status').where({ id: jobId }).first();
      return !row || row.cancel_requested_at !== null || row.status === 'canceled';
    },

    /** Final transition; only from an open status, so a late duplicate can't overwrite it. */
    async finish(
      trx: Knex.Transaction,
      jobId: string,
      status: 'succeeded' | 'failed' | 'canceled',
      extra: Record<string, unknown> = {},
    ): Promise<boolean> {
      const n = await trx('jobs')
        .update({
          status,
          finished_at: trx.fn.now(),
          updated_at: trx.fn.now(),
          ...(status === 'succeeded' ? { progress: 1 } : {}),
          ...extra,
        })
        .where({ id: jobId })
        .whereIn('status', open);
      return n > 0;
    },
  };
}

export type JobStore = ReturnType<typeof createJobStore>;
