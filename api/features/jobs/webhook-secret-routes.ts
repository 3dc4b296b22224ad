import { Router } from 'express';
import type { Knex } from 'knex';
import { z } from 'zod';
import { appendAudit } from '../../../shared/audit/audit-log.ts';
import { parseInput } from '../../../shared/validation/parse.ts';
import { newWebhookSecret } from '../../../shared/webhooks/signing.ts';
import { auditActor, principalOf } from '../../http/request-context.ts';
import { requireRole } from '../auth/authenticate.ts';

const rotateBody = z.object({
  overlap_seconds: z
    .number()
    .int()
    .min(0)
    .max(7 * 86_400)
    .default(86_400),
});

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
        if (await store.setIfMissing(trx, tenantId, newWebhookSecret())) {
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
    const row = await db('tenants').select('webhook_secret_previous_until').where({ id: tenantId }).first();
    const until = row?.webhook_secret_previous_until as Date | null | undefined;
    res.setHeader('Cache-Control', 'no-store');
    res.json({ secret, previous_valid_until: until && until > new Date() ? until.toISOString() : null });
  });

  /**
   * `POST /v1/webhook-secret/rotate { overlap_seconds? }` (admin+): a new secret signs from now on;
   * the old one goes on signing too (a second `v1,…` in webhook-signature, a second `v1=` in
   * Rendermill-Signature) for `overlap_seconds` (default 24 h, at most 7 days), so receivers switch
   * without missing a webhook.
   */
  r.post('/v1/webhook-secret/rotate', requireRole('admin'), async (req, res) => {
    const tenantId = principalOf(req).tenantId;
    const { overlap_seconds } = parseInput(rotateBody, req.body ?? {});
    const secret = newWebhookSecret();
    const until = new Date(Date.now() + overlap_seconds * 1000);
    await db.transaction(async (trx) => {
      const current = await store.get(trx, tenantId);
      await trx('tenants')
        .update({
          webhook_secret: secret,
          webhook_secret_previous: current,
          webhook_secret_previous_until: current ? until : null,
        })
        .where({ id: tenantId });
      await appendAudit(trx, {
        ...auditActor(req),
        action: 'webhook_secret.rotated',
        targetType: 'tenant',
        targetId: tenantId,
        metadata: { overlap_seconds },
      });
    });
    res.setHeader('Cache-Control', 'no-store');
    res.json({ secret, previous_valid_until: until.toISOString() });
  });

  return r;
}
