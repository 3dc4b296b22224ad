import type { Knex } from 'knex';
import { z } from 'zod/v4';
import { roleEnum } from '../../http/contract-schemas.ts';
import { defineOperation, type Operation } from '../../http/operation.ts';
import { principalOf } from '../../http/request-context.ts';

const tenantView = z.object({ id: z.string(), name: z.string(), plan: z.string() });

/** `GET /v1/me`: who is calling, for which tenant, with which role and plan. */
export function meRoutes(deps: { db: Knex }): Operation[] {
  return [
    defineOperation({
      operationId: 'getMe',
      method: 'get',
      path: '/v1/me',
      tag: 'me',
      summary: 'Who is calling: user (or API key), tenant, role, plan',
      description: 'With an API key, `user` is null and `api_key` names the key.',
      auth: 'bearer',
      responses: {
        200: {
          description: 'The caller',
          body: z.object({
            user: z.object({ id: z.string(), email: z.string() }).nullable(),
            api_key: z.object({ id: z.string() }).optional(),
            tenant: tenantView,
            role: roleEnum,
            plan: z.string(),
          }),
          example: {
            user: { id: 'usr_4i1B', email: 'you@example.com' },
            tenant: { id: 'ten_qABX', name: 'My workspace', plan: 'free' },
            role: 'owner',
            plan: 'free',
          },
        },
      },
      handler: async (_input, req, res) => {
        const p = principalOf(req);
        const tenant = await deps
          .db('tenants')
          .select('id', 'name', 'plan')
          .where({ id: p.tenantId })
          .first();
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
      },
    }),
  ];
}
