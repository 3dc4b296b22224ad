import type { Knex } from 'knex';
import type { SqlPart } from '../../../shared/db/sql-part.ts';

type Db = Knex | Knex.Transaction;

export interface Claim {
  tenantId: string;
  key: string;
  requestHash: string;
  jobId: string;
  ttlSeconds: number;
}

/**
 * Claims `key`, or replaces an expired claim; returns `job_id` when it did, nothing when a live
 * claim exists. A concurrent claim of the same key waits on the primary key until the other
 * transaction ends, then sees its row: two identical requests never both insert a job.
 */
function claimSql(c: Claim): SqlPart {
  return {
    sql: `INSERT INTO idempotency_keys (tenant_id, key, request_hash, job_id, expires_at)
          VALUES (?, ?, ?, ?, now() + make_interval(secs => ?))
          ON CONFLICT (tenant_id, key) DO UPDATE
            SET request_hash = EXCLUDED.request_hash, job_id = EXCLUDED.job_id, expires_at = EXCLUDED.expires_at
            WHERE idempotency_keys.expires_at <= now()
          RETURNING job_id`,
    bindings: [c.tenantId, c.key, c.requestHash, c.jobId, c.ttlSeconds],
  };
}

/** `Idempotency-Key` claims of job submissions (24 h per tenant). Job rows live in the job repository. */
export function createIdempotencyStore() {
  return {
    /** Claims `key` for this request (see `claimSql`). False: a live claim exists. */
    async claim(trx: Knex.Transaction, c: Claim): Promise<boolean> {
      const { sql, bindings } = claimSql(c);
      const { rows } = await trx.raw<{ rows: unknown[] }>(sql, bindings);
      return rows.length > 0;
    },

    /** The claim as a statement for a CTE (`RETURNING job_id` when claimed). */
    claimSql,

    async find(
      db: Db,
      tenantId: string,
      key: string,
    ): Promise<{ request_hash: string; job_id: string } | null> {
      const row = await db('idempotency_keys')
        .select('request_hash', 'job_id')
        .where({ tenant_id: tenantId, key })
        .where('expires_at', '>', db.fn.now())
        .first<{ request_hash: string; job_id: string } | undefined>();
      return row ?? null;
    },
  };
}

export type IdempotencyStore = ReturnType<typeof createIdempotencyStore>;
