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
 * Claims each key, or replaces an expired claim; returns `job_id` for each one it did, nothing
 * for a key with a live claim. A concurrent claim of the same key waits on the primary key until
 * the other transaction ends, then sees its row: two identical requests never both insert a job.
 * Keys are claimed in (tenant, key) order, so two statements claiming several keys cannot
 * deadlock; the caller never passes one key twice (Postgres refuses to update a row twice in
 * one statement).
 */
function claimSql(claims: readonly Claim[]): SqlPart {
  return {
    sql: `INSERT INTO idempotency_keys (tenant_id, key, request_hash, job_id, expires_at)
          SELECT c."tenantId", c.key, c."requestHash", c."jobId", now() + make_interval(secs => c."ttlSeconds")
          FROM jsonb_to_recordset(?::jsonb)
            AS c("tenantId" text, key text, "requestHash" text, "jobId" text, "ttlSeconds" float8)
          ORDER BY c."tenantId", c.key
          ON CONFLICT (tenant_id, key) DO UPDATE
            SET request_hash = EXCLUDED.request_hash, job_id = EXCLUDED.job_id, expires_at = EXCLUDED.expires_at
            WHERE idempotency_keys.expires_at <= now()
          RETURNING job_id`,
    bindings: [JSON.stringify(claims)],
  };
}

/** `Idempotency-Key` claims of job submissions (24 h per tenant). Job rows live in the job repository. */
export function createIdempotencyStore() {
  return {
    /** The claims as a statement for a CTE (`RETURNING job_id` for each key claimed). */
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
