import { createSecretBox } from '../../../shared/integrations/secret-box.ts';
import { createYoutubeConnectionStore } from '../../../shared/integrations/youtube-connection-store.ts';
import { googleOAuthFromConfig } from '../../../shared/integrations/youtube-grant.ts';
import type { DeletionRequest } from '../../../shared/jobs/account-requests.ts';
import type { StepDefinition } from '../../jobs/step.ts';

/**
 * `revoke-integrations`: revokes the tenant's YouTube grant at Google before `erase-data` deletes
 * the sealed token (after that nobody could). Best effort: a deletion must not wait on Google, so a
 * refused or failed revocation is recorded in the step's result and the deletion goes on.
 */
export const revokeIntegrations: StepDefinition<
  DeletionRequest,
  { youtube: 'none' | 'not_configured' | 'revoked' | 'revoke_failed' },
  'revoke-integrations'
> = {
  name: 'revoke-integrations',
  weight: 1,
  deadlineMs: ({ config }) => config.GOOGLE_HTTP_TIMEOUT_SECONDS * 1000 + 5_000,
  async run(ctx) {
    const { config, db, logger } = ctx.services;
    const row = await createYoutubeConnectionStore().find(db, ctx.job.tenant_id);
    if (!row) return { result: { youtube: 'none' } };
    const oauth = googleOAuthFromConfig(config);
    if (!oauth || !config.INTEGRATIONS_ENCRYPTION_KEY) return { result: { youtube: 'not_configured' } };
    try {
      const token = createSecretBox(config.INTEGRATIONS_ENCRYPTION_KEY).open(
        row.refresh_token_encrypted,
        ctx.job.tenant_id,
      );
      await oauth.revoke(token);
      return { result: { youtube: 'revoked' } };
    } catch (err) {
      logger.warn({ err, tenant_id: ctx.job.tenant_id }, 'youtube grant not revoked during account deletion');
      return { result: { youtube: 'revoke_failed' } };
    }
  },
};
