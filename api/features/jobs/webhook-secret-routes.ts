import type { Knex } from 'knex';
import { z } from 'zod/v4';
import { appendAudit } from '../../../shared/audit/audit-log.ts';
import { newWebhookSecret } from '../../../shared/webhooks/signing.ts';
import { isoTime } from '../../http/contract-schemas.ts';
import { defineOperation, type Operation } from '../../http/operation.ts';
import { auditActor, principalOf } from '../../http/request-context.ts';

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
      return row?.webhook_secret ?? null;
    },
    /** Only fills an empty slot, so two first reads at once agree on one secret. */
    async setIfMissing(trx: Knex.Transaction, tenantId: string, secret: string): Promise<boolean> {
      const n = await trx('tenants')
        .update({ webhook_secret: secret })
        .where({ id: tenantId })
        .whereNull('webhook_secret');
      return n > 0;
    },
    async previousUntil(db: Knex, tenantId: string): Promise<Date | null> {
      const row = await db('tenants').select('webhook_secret_previous_until').where({ id: tenantId }).first();
      return row?.webhook_secret_previous_until ?? null;
    },
    async rotate(
      trx: Knex.Transaction,
      tenantId: string,
      s: { secret: string; previous: string | null; previousUntil: Date | null },
    ): Promise<void> {
      await trx('tenants')
        .update({
          webhook_secret: s.secret,
          webhook_secret_previous: s.previous,
          webhook_secret_previous_until: s.previousUntil,
        })
        .where({ id: tenantId });
    },
  };
}

export type WebhookSecretStore = ReturnType<typeof createWebhookSecretStore>;

const secretView = z.object({
  secret: z.string().describe('`whsec_…`: base64 after the prefix, as Standard Webhooks libraries take it'),
  previous_valid_until: isoTime
    .nullable()
    .describe('Until then the previous secret signs too (a second signature); null without an overlap'),
});

const secretExample = {
  secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  previous_valid_until: null,
};

/**
 * The tenant's callback signing secret (admin+): `GET /v1/webhook-secret` and its rotation. It
 * signs `webhook-signature` (Standard Webhooks) and `Rendermill-Signature`.
 */
export function webhookSecretRoutes(deps: { db: Knex; store: WebhookSecretStore }): Operation[] {
  const { db, store } = deps;
  const common = { tag: 'webhooks', auth: 'bearer', role: 'admin' } as const;
  return [
    defineOperation({
      ...common,
      operationId: 'getWebhookSecret',
      method: 'get',
      path: '/v1/webhook-secret',
      summary: 'The secret that signs your webhooks',
      description: 'Created on first read for tenants that have none (audited).',
      responses: {
        200: {
          description: 'The secret (Cache-Control: no-store)',
          body: secretView,
          example: secretExample,
        },
      },
      handler: async (_input, req, res) => {
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
        const until = await store.previousUntil(db, tenantId);
        res.setHeader('Cache-Control', 'no-store');
        res.json({ secret, previous_valid_until: until && until > new Date() ? until.toISOString() : null });
      },
    }),
    /*
     * A new secret signs from now on; the old one goes on signing too (a second `v1,…` in
     * webhook-signature, a second `v1=` in Rendermill-Signature) for `overlap_seconds`, so
     * receivers switch without missing a webhook.
     */
    defineOperation({
      ...common,
      operationId: 'rotateWebhookSecret',
      method: 'post',
      path: '/v1/webhook-secret/rotate',
      summary: 'Rotate the webhook secret, with an overlap',
      description:
        'The old secret keeps signing beside the new one for `overlap_seconds` (default 86400, at most 7 days).',
      body: rotateBody,
      bodyExample: { overlap_seconds: 3600 },
      responses: {
        200: {
          description: 'The new secret, and until when the old one still signs',
          body: secretView,
          example: { ...secretExample, previous_valid_until: '2026-12-02T10:00:00.000Z' },
        },
      },
      handler: async ({ body }, req, res) => {
        const tenantId = principalOf(req).tenantId;
        const { overlap_seconds } = body;
        const secret = newWebhookSecret();
        const until = new Date(Date.now() + overlap_seconds * 1000);
        await db.transaction(async (trx) => {
          const current = await store.get(trx, tenantId);
          await store.rotate(trx, tenantId, {
            secret,
            previous: current,
            previousUntil: current ? until : null,
          });
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
      },
    }),
  ];
}
