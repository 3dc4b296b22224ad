import { Router } from 'express';
import type { Knex } from 'knex';
import { appendAudit } from '../../../shared/audit/audit-log.ts';
import { newSecret } from '../../../shared/crypto/tokens.ts';
import { auditActor, principalOf } from '../../http/request-context.ts';
import { requireRole } from '../auth/authenticate.ts';

/** SQL of the tenant's callback signing secret (set at tenant creation; older tenants get one lazily). */
export function createWebhookSecretStore() {
  return {
    async get(db: Knex | Knex.Transaction, tenantId: string): Promise<string | null> {
      const row = await db('tenants').select('webhook_secret').where({ id: tenantId }).first();
      return (row?.webhook_secret as string | null | undefined) ?? null;
    },
    /** Only fills an empty slot, so two first reads at once agree on one secret. */
    async setIfMissing(trx: Knex.Transaction, tenantId: string, secret: string): Promise<boolean> {
      const n = await trx('tenants')
        .update({ webhook_secret: secret })
        .where({ id: tenantId })
        .whereNull('webhook_secret');
      return n > 0;
    },
  };
}

export type WebhookSecretStore = ReturnType<typeof createWebhookSecretStore>;

/** `GET /v1/webhook-secret` (admin+): the secret that signs client callbacks (`Rendermill-Signature`). */
export function webhookSecretRoutes(deps: { db: Knex; store: WebhookSecretStore }): Router {
  const r = Router();
  const { db, store } = deps;

  r.get('/v1/webhook-secret', requireRole('admin'), async (req, res) => {
    const tenantId = principalOf(req).tenantId;
    let secret = await store.get(db, tenantId);
    if (!secret) {
      secret = await db.transaction(async (trx) => {
        if (await store.setIfMissing(trx, tenantId, newSecret('whsec_', 24))) {
          await appendAudit(trx, {
            ...auditActor(req),
            action: 'webhook_secret.created',
            targetType: 'tenant',
            targetId: tenantId,
          });
        }
        return store.get(trx, tenantId);
      });
    }
    res.setHeader('Cache-Control', 'no-store');
    res.json({ secret });
  });

  return r;
}
