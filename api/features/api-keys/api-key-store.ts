import type { Knex } from 'knex';
import type { TableRow } from '../../../shared/db/tables.ts';

/** An API key as the API shows it: never its hash. */
export type ApiKeyRow = Pick<TableRow<'api_keys'>, (typeof PUBLIC_COLUMNS)[number]>;

const PUBLIC_COLUMNS = [
  'id',
  'tenant_id',
  'name',
  'role',
  'prefix',
  'last4',
  'created_at',
  'last_used_at',
] as const;

/** API key SQL. Every query is scoped by tenant; the secret itself is never stored, only its hash. */
export function createApiKeyStore() {
  return {
    async insert(
      db: Knex | Knex.Transaction,
      row: Omit<ApiKeyRow, 'created_at' | 'last_used_at'> & { key_hash: string; created_by: string | null },
    ): Promise<ApiKeyRow> {
      const [created] = await db('api_keys').insert(row).returning(PUBLIC_COLUMNS);
      if (!created) throw new Error('INSERT … RETURNING gave no row');
      return created;
    },
    async list(db: Knex, tenantId: string): Promise<ApiKeyRow[]> {
      return db('api_keys')
        .select(...PUBLIC_COLUMNS)
        .where({ tenant_id: tenantId })
        .whereNull('revoked_at')
        .orderBy('created_at', 'desc');
    },
    async find(db: Knex | Knex.Transaction, tenantId: string, id: string): Promise<ApiKeyRow | undefined> {
      return db('api_keys')
        .select(...PUBLIC_COLUMNS)
        .where({ tenant_id: tenantId, id })
        .whereNull('revoked_at')
        .first();
    },
    async revoke(db: Knex | Knex.Transaction, tenantId: string, id: string): Promise<boolean> {
      const n = await db('api_keys')
        .update({ revoked_at: db.fn.now() })
        .where({ tenant_id: tenantId, id })
        .whereNull('revoked_at');
      return n > 0;
    },
    async findByHash(db: Knex, keyHash: string): Promise<ApiKeyRow | undefined> {
      return db('api_keys')
        .select(...PUBLIC_COLUMNS)
        .where({ key_hash: keyHash })
        .whereNull('revoked_at')
        .first();
    },
    /** Throttled to one write a minute per key so a busy key does not write on every call. */
    async touch(db: Knex, id: string): Promise<void> {
      await db('api_keys')
        .update({ last_used_at: db.fn.now() })
        .where({ id })
        .andWhere((q) =>
          q.whereNull('last_used_at').orWhere('last_used_at', '<', db.raw("now() - interval '1 minute'")),
        );
    },
  };
}

export type ApiKeyStore = ReturnType<typeof createApiKeyStore>;
