import { Router } from 'express';
import type { Knex } from 'knex';
import { principalOf } from '../../http/request-context.ts';

/** `GET /v1/me`: who is calling, for which tenant, with which role and plan. */
export function meRoutes(deps: { db: Knex }): Router {
  const r = Router();
  r.get('/v1/me', async (req, res) => {
    const p = principalOf(req);
    const tenant = await deps.db('tenants').select('id', 'name', 'plan').where({ id: p.tenantId }).first();
    const user = p.userId
      ? await deps.db('users').select('id', 'email').where({ id: p.userId }).first()
      : null;
    res.json({
      user: user ?? null,
      api_key: p.apiKeyId ? { id: p.apiKeyId } : undefined,
      tenant,
      role: p.role,
      plan: tenant?.plan,
    });
  });
  return r;
}
