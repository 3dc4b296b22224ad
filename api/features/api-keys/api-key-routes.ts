import { Router } from 'express';
import type { Knex } from 'knex';
import { z } from 'zod';
import { appendAudit } from '../../../shared/audit/audit-log.ts';
import { roleAtLeast } from '../../../shared/auth/roles.ts';
import { hashSecret, newSecret } from '../../../shared/crypto/tokens.ts';
import { ForbiddenError, NotFoundError } from '../../../shared/errors/http-errors.ts';
import { newId } from '../../../shared/ids/ids.ts';
import { parseInput } from '../../../shared/validation/parse.ts';
import { auditActor, principalOf } from '../../http/request-context.ts';
import { API_KEY_PREFIX, requireRole } from '../auth/authenticate.ts';
import type { ApiKeyRow, ApiKeyStore } from './api-key-store.ts';

const createBody = z.object({
  name: z.string().trim().min(1).max(100),
  /** The role the key acts with; never above its creator's. Default `member` (can submit jobs). */
  role: z.enum(['viewer', 'member', 'admin']).default('member'),
});

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
export function apiKeyRoutes(deps: { db: Knex; store: ApiKeyStore }): Router {
  const r = Router();
  const { db, store } = deps;

  r.get('/v1/api-keys', requireRole('admin'), async (req, res) => {
    const keys = await store.list(db, principalOf(req).tenantId);
    res.json({ data: keys.map(view), next_cursor: null });
  });

  r.post('/v1/api-keys', requireRole('admin'), async (req, res) => {
    const p = principalOf(req);
    const body = parseInput(createBody, req.body);
    if (!roleAtLeast(p.role, body.role))
      throw new ForbiddenError('A key cannot have a higher role than its creator');
    const minted = mintKey();
    const created = await db.transaction(async (trx) => {
      const row = await store.insert(trx, {
        id: newId('key'),
        tenant_id: p.tenantId,
        name: body.name,
        role: body.role,
        prefix: minted.prefix,
        last4: minted.last4,
        key_hash: minted.key_hash,
        created_by: p.userId,
      });
      await appendAudit(trx, {
        ...auditActor(req),
        action: 'api_key.created',
        targetType: 'api_key',
        targetId: row.id,
      });
      return row;
    });
    res.status(201).json({ ...view(created), key: minted.key });
  });

  r.delete('/v1/api-keys/:id', requireRole('admin'), async (req, res) => {
    const p = principalOf(req);
    await db.transaction(async (trx) => {
      if (!(await store.revoke(trx, p.tenantId, String(req.params.id))))
        throw new NotFoundError('API key not found');
      await appendAudit(trx, {
        ...auditActor(req),
        action: 'api_key.deleted',
        targetType: 'api_key',
        targetId: String(req.params.id),
      });
    });
    res.status(204).end();
  });

  r.post('/v1/api-keys/:id/rotate', requireRole('admin'), async (req, res) => {
    const p = principalOf(req);
    const minted = mintKey();
    const created = await db.transaction(async (trx) => {
      const old = await store.find(trx, p.tenantId, String(req.params.id));
      if (!old || !(await store.revoke(trx, p.tenantId, old.id)))
        throw new NotFoundError('API key not found');
      const row = await store.insert(trx, {
        id: newId('key'),
        tenant_id: p.tenantId,
        name: old.name,
        role: old.role,
        prefix: minted.prefix,
        last4: minted.last4,
        key_hash: minted.key_hash,
        created_by: p.userId,
      });
      await appendAudit(trx, {
        ...auditActor(req),
        action: 'api_key.rotated',
        targetType: 'api_key',
        targetId: row.id,
        metadata: { replaces: old.id },
      });
      return row;
    });
    res.status(201).json({ ...view(created), key: minted.key });
  });

  return r;
}
