import type { Knex } from 'knex';
import { AUDIT_COLUMNS } from '../../../shared/audit/audit-log.ts';
import { createJobRepository } from '../../../shared/jobs/job-repository.ts';

const jobRepository = createJobRepository();

type Row = Record<string, unknown>;

/**
 * What an account export reads: every query is scoped by tenant and names its columns, so a
 * column added later (a secret, a hash) stays out of the export until someone adds it here on
 * purpose. Never selected: token_hash, key_hash, webhook_secret, refresh tokens.
 */
export function createExportReader(db: Knex, tenantId: string, batchSize = 500) {
  const position = (col: string) =>
    db.raw(`to_char(?? AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS _position`, [col]);

  /** Pages in `(time, id)` order; the time travels as exact text so no row is skipped or repeated. */
  async function* byTime(
    build: () => Knex.QueryBuilder,
    timeCol: string,
    idCol: string,
  ): AsyncGenerator<Row[]> {
    let after: { at: string; id: string } | null = null;
    for (;;) {
      const q = build().select(position(timeCol)).orderBy([timeCol, idCol]).limit(batchSize);
      if (after) q.whereRaw('(??, ??) > (?::timestamptz, ?)', [timeCol, idCol, after.at, after.id]);
      const rows: Row[] = await q;
      if (rows.length === 0) return;
      const last = rows.at(-1)!;
      after = { at: String(last._position), id: String(last[idCol]) };
      yield rows.map(({ _position, ...r }) => r);
      if (rows.length < batchSize) return;
    }
  }

  return {
    async tenant(): Promise<Row | undefined> {
      return db('tenants')
        .select('id', 'name', 'plan', 'created_at', 'deletion_scheduled_for')
        .where({ id: tenantId })
        .first();
    },

    async members(): Promise<Row[]> {
      return db('memberships as m')
        .join('users as u', 'u.id', 'm.user_id')
        .select('m.user_id', 'u.email', 'm.role', 'm.created_at as joined_at')
        .where('m.tenant_id', tenantId)
        .orderBy([{ column: 'm.created_at' }, { column: 'm.user_id' }]);
    },

    async invites(): Promise<Row[]> {
      return db('magic_link_tokens')
        .select('id', 'email', 'role', 'invited_by', 'created_at', 'expires_at', 'consumed_at')
        .where({ tenant_id: tenantId, purpose: 'invite' })
        .orderBy([{ column: 'created_at' }, { column: 'id' }]);
    },

    /** Key metadata as `GET /v1/api-keys` shows it (prefix and last 4 are not secret). */
    async apiKeys(): Promise<Row[]> {
      return db('api_keys')
        .select(
          'id',
          'name',
          'role',
          'prefix',
          'last4',
          'created_by',
          'created_at',
          'last_used_at',
          'revoked_at',
        )
        .where({ tenant_id: tenantId })
        .orderBy([{ column: 'created_at' }, { column: 'id' }]);
    },

    async sessions(): Promise<Row[]> {
      return db('sessions')
        .select(
          'id',
          'user_id',
          'ip',
          'user_agent',
          'created_at',
          'authenticated_at',
          'last_used_at',
          'expires_at',
          'revoked_at',
          'revoked_reason',
        )
        .where({ tenant_id: tenantId })
        .orderBy([{ column: 'created_at' }, { column: 'id' }]);
    },

    /** Jobs, each with its steps nested. */
    async *jobs(): AsyncGenerator<Row[]> {
      const pages = byTime(() => jobRepository.exportJobs(db, tenantId), 'created_at', 'id');
      for await (const jobs of pages) {
        const steps: Row[] = await jobRepository.exportSteps(
          db,
          jobs.map((j) => String(j.id)),
        );
        yield jobs.map((j) => ({
          ...j,
          steps: steps.filter((s) => s.job_id === j.id).map(({ job_id, ...s }) => s),
        }));
      }
    },

    usage(): AsyncGenerator<Row[]> {
      return byTime(
        () =>
          db('usage_events')
            .select('id', 'job_id', 'step', 'metric', 'quantity', 'occurred_at', 'reported_at')
            .where({ tenant_id: tenantId }),
        'occurred_at',
        'id',
      );
    },

    async *auditLog(): AsyncGenerator<Row[]> {
      let after = 0;
      for (;;) {
        const rows: Row[] = await db('audit_log')
          .select(...AUDIT_COLUMNS)
          .where({ tenant_id: tenantId })
          .where('id', '>', after)
          .orderBy('id')
          .limit(batchSize);
        if (rows.length === 0) return;
        after = Number(rows.at(-1)!.id);
        yield rows;
        if (rows.length < batchSize) return;
      }
    },

    webhookDeliveries(): AsyncGenerator<Row[]> {
      return byTime(
        () =>
          db('webhook_deliveries')
            .select(
              'id',
              'job_id',
              'event',
              'url',
              'payload',
              'status',
              'attempts',
              'last_status_code',
              'last_error',
              'created_at',
              'delivered_at',
            )
            .where({ tenant_id: tenantId }),
        'created_at',
        'id',
      );
    },

    /** Outputs still held. Earlier exports are left out: each would nest every previous one. */
    outputs: () => jobRepository.heldOutputs(db, tenantId),
  };
}

export type ExportReader = ReturnType<typeof createExportReader>;
