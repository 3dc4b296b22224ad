import type { Knex } from 'knex';
import { z } from 'zod/v4';
import { appendAudit } from '../../../shared/audit/audit-log.ts';
import { roleAtLeast } from '../../../shared/auth/roles.ts';
import type { TenantGenerations } from '../../../shared/auth/tenant-generation.ts';
import { hashSecret, newSecret } from '../../../shared/crypto/tokens.ts';
import { ForbiddenError, NotFoundError } from '../../../shared/errors/http-errors.ts';
import { newId } from '../../../shared/ids/ids.ts';
import { idParam, isoTime, listOf, nullableTime } from '../../http/contract-schemas.ts';
import { defineOperation, type Operation } from '../../http/operation.ts';
import { auditActor, principalOf } from '../../http/request-context.ts';
import { API_KEY_PREFIX } from '../auth/authenticate.ts';
import type { ApiKeyRow, ApiKeyStore } from './api-key-store.ts';

const createBody = z.object({
  name: z.string().trim().min(1).max(100),
  /** The role the key acts with; never above its creator's. Default `member` (can submit jobs). */
  role: z.enum(['viewer', 'member', 'admin']).default('member'),
});

const keyView = z.object({
  id: z.string(),
  name: z.string(),
  role: z.enum(['viewer', 'member', 'admin']),
  prefix: z.string(),
  last4: z.string(),
  created_at: isoTime,
  last_used_at: nullableTime,
});
/** Shown once: at creation and rotation. */
const newKeyView = keyView.extend({ key: z.string() });
const keyParams = z.object({ id: idParam });

function view(k: ApiKeyRow) {
  return {
    id: k.id,
    name: k.name,
    role: k.role,
    prefix: k.prefix,
    last4: k.last4,
    created_at: k.created_at,
    last_used_at: k.last_used_at,
  };
}

type Minted = ReturnType<typeof mintKey>;

/** The row of a freshly minted key: only its hash, prefix and last 4 characters are stored. */
function keyRow(
  tenantId: string,
  createdBy: string | null,
  name: string,
  role: ApiKeyRow['role'],
  m: Minted,
) {
  const { key: _shownOnce, ...stored } = m;
  return { id: newId('key'), tenant_id: tenantId, name, role, ...stored, created_by: createdBy };
}

function mintKey() {
  const key = newSecret(API_KEY_PREFIX, 32);
  return {
    key,
    key_hash: hashSecret(key),
    prefix: key.slice(0, API_KEY_PREFIX.length + 4),
    last4: key.slice(-4),
  };
}

/** API keys: admin+ manage them; the secret is shown once, at creation or rotation. */
/** A revoked or rotated key stops on the very next request: `generations` is bumped after commit (auth-cache.ts). */
export function apiKeyRoutes(deps: {
  db: Knex;
  store: ApiKeyStore;
  generations: TenantGenerations;
}): Operation[] {
  const { db, store } = deps;
  const common = { tag: 'api-keys', auth: 'bearer', role: 'admin' } as const;
  return [
    defineOperation({
      ...common,
      operationId: 'listApiKeys',
      method: 'get',
      path: '/v1/api-keys',
      summary: 'List API keys (prefix and last 4 characters; never the key)',
      responses: { 200: { description: 'The keys', body: listOf(keyView) } },
      handler: async (_input, req, res) => {
        const keys = await store.list(db, principalOf(req).tenantId);
        res.json({ data: keys.map(view), next_cursor: null });
      },
    }),
    defineOperation({
      ...common,
      operationId: 'createApiKey',
      method: 'post',
      path: '/v1/api-keys',
      summary: 'Create an API key (shown once)',
      description: "A key's role is never above its creator's.",
      body: createBody,
      bodyExample: { name: 'ci', role: 'member' },
      responses: {
        201: {
          description: 'The key, with its secret',
          body: newKeyView,
          example: {
            id: 'key_v7-LqT0aB1cD2eF',
            name: 'ci',
            role: 'member',
            prefix: 'rm_live_dp3f',
            last4: '5Jxo',
            created_at: '2026-11-20T10:00:00.000Z',
            last_used_at: null,
            key: 'rm_live_dp3f6e2s_qByb28mw5Jxo',
          },
        },
      },
      handler: async ({ body }, req, res) => {
        const p = principalOf(req);
        if (!roleAtLeast(p.role, body.role))
          throw new ForbiddenError('A key cannot have a higher role than its creator');
        const minted = mintKey();
        const created = await db.transaction(async (trx) => {
          const row = await store.insert(trx, keyRow(p.tenantId, p.userId, body.name, body.role, minted));
          await appendAudit(trx, {
            ...auditActor(req),
            action: 'api_key.created',
            targetType: 'api_key',
            targetId: row.id,
          });
          return row;
        });
        res.status(201).json({ ...view(created), key: minted.key });
      },
    }),
    defineOperation({
      ...common,
      operationId: 'deleteApiKey',
      method: 'delete',
      path: '/v1/api-keys/:id',
      summary: 'Revoke an API key',
      params: keyParams,
      responses: { 204: { description: 'Revoked' } },
      handler: async ({ params }, req, res) => {
        const p = principalOf(req);
        await db.transaction(async (trx) => {
          if (!(await store.revoke(trx, p.tenantId, params.id))) throw new NotFoundError('API key not found');
          await appendAudit(trx, {
            ...auditActor(req),
            action: 'api_key.deleted',
            targetType: 'api_key',
            targetId: params.id,
          });
        });
        await deps.generations.bump([p.tenantId]);
        res.status(204).end();
      },
    }),
    defineOperation({
      ...common,
      operationId: 'rotateApiKey',
      method: 'post',
      path: '/v1/api-keys/:id/rotate',
      summary: 'Replace an API key with a new one (the old one stops at once)',
      params: keyParams,
      responses: { 201: { description: 'The new key, with its secret', body: newKeyView } },
      handler: async ({ params }, req, res) => {
        const p = principalOf(req);
        const minted = mintKey();
        const created = await db.transaction(async (trx) => {
          const old = await store.find(trx, p.tenantId, params.id);
          if (!old || !(await store.revoke(trx, p.tenantId, old.id)))
            throw new NotFoundError('API key not found');
          const row = await store.insert(trx, keyRow(p.tenantId, p.userId, old.name, old.role, minted));
          await appendAudit(trx, {
            ...auditActor(req),
            action: 'api_key.rotated',
            targetType: 'api_key',
            targetId: row.id,
            metadata: { replaces: old.id },
          });
          return row;
        });
        await deps.generations.bump([p.tenantId]);
        res.status(201).json({ ...view(created), key: minted.key });
      },
    }),
  ];
}
