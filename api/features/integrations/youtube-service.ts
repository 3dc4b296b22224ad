import type { Knex } from 'knex';
import { type AuditEntry, appendAudit } from '../../../shared/audit/audit-log.ts';
import type { Config } from '../../../shared/config/config.ts';
import { hashSecret, newSecret } from '../../../shared/crypto/tokens.ts';
import { UnavailableError, UpgradeRequiredError } from '../../../shared/errors/http-errors.ts';
import {
  authorizeUrl,
  type GoogleOAuth,
  newPkce,
  YOUTUBE_UPLOAD_SCOPE,
} from '../../../shared/integrations/google-oauth.ts';
import { createSecretBox, type SecretBox } from '../../../shared/integrations/secret-box.ts';
import type { YoutubeConnectionStore } from '../../../shared/integrations/youtube-connection-store.ts';
import { googleOAuthFromConfig } from '../../../shared/integrations/youtube-grant.ts';
import type { Logger } from '../../../shared/logging/logger.ts';
import type { PlanCatalogue } from '../../../shared/metering/plans.ts';
import { tenantPlan } from '../../../shared/metering/tenant-plan.ts';

/** How long a consent screen may stay open: the state and its PKCE verifier expire after this. */
export const OAUTH_STATE_TTL_SECONDS = 600;
export const CALLBACK_PATH = '/v1/integrations/youtube/callback';

export interface IntegrationActor {
  tenantId: string;
  userId: string;
  audit: Pick<AuditEntry, 'actorType' | 'actorId' | 'requestId' | 'ip'>;
}

export interface YoutubeStatus {
  connected: boolean;
  channel_id: string | null;
  channel_title: string | null;
  connected_at: string | null;
  connected_by: string | null;
}

type GoogleConfig = Pick<
  Config,
  | 'PUBLIC_URL'
  | 'INTEGRATIONS_ENCRYPTION_KEY'
  | 'GOOGLE_OAUTH_CLIENT_ID'
  | 'GOOGLE_OAUTH_CLIENT_SECRET'
  | 'GOOGLE_OAUTH_AUTHORIZE_URL'
  | 'GOOGLE_OAUTH_TOKEN_URL'
  | 'GOOGLE_OAUTH_REVOKE_URL'
  | 'GOOGLE_HTTP_TIMEOUT_SECONDS'
>;

/** The YouTube feature gate: 403 `upgrade_required` naming the first plan that has it. */
export async function requireYoutubePlan(db: Knex, plans: PlanCatalogue, tenantId: string): Promise<void> {
  const plan = await tenantPlan(db, plans, tenantId);
  if (plan.youtube_publish) return;
  const upgrade = plans.firstWith((p) => p.youtube_publish)?.name ?? 'pro';
  throw new UpgradeRequiredError(
    'youtube_publish',
    upgrade,
    `Publishing to YouTube needs the ${upgrade} plan or above`,
  );
}

/**
 * Connecting a tenant's YouTube channel with Google OAuth 2.0 (authorization code + PKCE S256),
 * its status, and disconnecting (revoke, then delete). The refresh token is sealed with
 * INTEGRATIONS_ENCRYPTION_KEY before it touches the database; without the key (or the OAuth
 * client) nothing connects (503).
 */
export function createYoutubeService(deps: {
  db: Knex;
  store: YoutubeConnectionStore;
  plans: PlanCatalogue;
  config: GoogleConfig;
  logger: Logger;
}) {
  const { db, store, config, logger } = deps;
  const redirectUri = `${config.PUBLIC_URL}${CALLBACK_PATH}`;
  const accountPage = `${config.PUBLIC_URL}/account`;

  function configured(): { box: SecretBox; oauth: GoogleOAuth; clientId: string } {
    const key = config.INTEGRATIONS_ENCRYPTION_KEY;
    const clientId = config.GOOGLE_OAUTH_CLIENT_ID;
    const clientSecret = config.GOOGLE_OAUTH_CLIENT_SECRET;
    if (!key || !clientId || !clientSecret) {
      const missing = [
        !key && 'INTEGRATIONS_ENCRYPTION_KEY',
        !clientId && 'GOOGLE_OAUTH_CLIENT_ID',
        !clientSecret && 'GOOGLE_OAUTH_CLIENT_SECRET',
      ].filter(Boolean);
      throw new UnavailableError(
        `YouTube publishing is not configured on this server (${missing.join(', ')} unset)`,
        3600,
      );
    }
    return { box: createSecretBox(key), clientId, oauth: googleOAuthFromConfig(config) as GoogleOAuth };
  }

  const back = (outcome: 'connected' | 'error', reason?: string) => {
    const url = new URL(accountPage);
    url.searchParams.set('youtube', outcome);
    if (reason) url.searchParams.set('reason', reason);
    return url.toString();
  };

  return {
    /** The consent URL; its `state` is bound to this tenant and user and expires in 10 minutes. */
    async connect(actor: IntegrationActor): Promise<{ authorize_url: string; expires_at: string }> {
      const { box, clientId } = configured();
      await requireYoutubePlan(db, deps.plans, actor.tenantId);
      const state = newSecret('yst_');
      const pkce = newPkce();
      const expiresAt = new Date(Date.now() + OAUTH_STATE_TTL_SECONDS * 1000);
      await store.saveState(db, {
        state_hash: hashSecret(state),
        tenant_id: actor.tenantId,
        user_id: actor.userId,
        code_verifier_encrypted: box.seal(pkce.verifier, actor.tenantId),
        expires_at: expiresAt,
      });
      return {
        authorize_url: authorizeUrl({
          authorizeUrl: config.GOOGLE_OAUTH_AUTHORIZE_URL,
          clientId,
          redirectUri,
          state,
          codeChallenge: pkce.challenge,
        }),
        expires_at: expiresAt.toISOString(),
      };
    },

    /**
     * Google's redirect back: takes the state (once), exchanges the code with its verifier and
     * stores the sealed refresh token. Answers where to send the browser (the Account page, with
     * `youtube=connected` or `youtube=error&reason=…`): the person is in a browser, not an API client.
     */
    async callback(
      q: { code?: string; state?: string; error?: string },
      requestId: string,
      ip: string | null,
    ): Promise<string> {
      const { box, oauth } = configured();
      const pending = q.state ? await store.takeState(db, hashSecret(q.state)) : null;
      if (!pending) return back('error', 'invalid_state');
      if (q.error || !q.code) return back('error', q.error === 'access_denied' ? 'access_denied' : 'no_code');
      let tokens: Awaited<ReturnType<typeof oauth.exchangeCode>>;
      try {
        tokens = await oauth.exchangeCode({
          code: q.code,
          codeVerifier: box.open(pending.code_verifier_encrypted, pending.tenant_id),
          redirectUri,
        });
      } catch (err) {
        logger.warn({ err, tenant_id: pending.tenant_id }, 'youtube code exchange failed');
        return back('error', 'exchange_failed');
      }
      if (!tokens.refresh_token) return back('error', 'no_refresh_token');
      const granted = tokens.scope ?? YOUTUBE_UPLOAD_SCOPE;
      if (!granted.split(' ').includes(YOUTUBE_UPLOAD_SCOPE)) return back('error', 'scope_not_granted');
      await db.transaction(async (trx) => {
        await store.upsert(trx, {
          tenant_id: pending.tenant_id,
          refresh_token_encrypted: box.seal(tokens.refresh_token as string, pending.tenant_id),
          key_fingerprint: box.fingerprint,
          scope: granted,
          channel_id: null,
          channel_title: null,
          connected_by: pending.user_id,
        });
        await appendAudit(trx, {
          tenantId: pending.tenant_id,
          actorType: 'user',
          actorId: pending.user_id,
          action: 'integration.youtube_connected',
          targetType: 'integration',
          targetId: 'youtube',
          requestId,
          ip,
        });
      });
      return back('connected');
    },

    async status(tenantId: string): Promise<YoutubeStatus> {
      const row = await store.find(db, tenantId);
      return {
        connected: row !== null,
        channel_id: row?.channel_id ?? null,
        channel_title: row?.channel_title ?? null,
        connected_at: row?.connected_at.toISOString() ?? null,
        connected_by: row?.connected_by ?? null,
      };
    },

    /**
     * Revokes the grant at Google, then forgets it. Google unreachable → 503 and the connection is
     * kept (a disconnect that left a live token at Google would not be one). Not connected → no-op.
     */
    async disconnect(actor: IntegrationActor): Promise<void> {
      const row = await store.find(db, actor.tenantId);
      if (!row) return;
      const { box, oauth } = configured();
      let token: string | null = null;
      try {
        token = box.open(row.refresh_token_encrypted, actor.tenantId);
      } catch {
        // Sealed under another key (rotated): it cannot be revoked from here; the row still goes.
        logger.warn(
          { tenant_id: actor.tenantId },
          'youtube refresh token does not decrypt; deleting without revoking',
        );
      }
      if (token) {
        try {
          await oauth.revoke(token);
        } catch (err) {
          logger.warn({ err, tenant_id: actor.tenantId }, 'youtube token revocation failed');
          throw new UnavailableError('Google did not confirm the revocation; try again', 30);
        }
      }
      await db.transaction(async (trx) => {
        await store.remove(trx, actor.tenantId);
        await appendAudit(trx, {
          ...actor.audit,
          tenantId: actor.tenantId,
          action: 'integration.youtube_disconnected',
          targetType: 'integration',
          targetId: 'youtube',
          metadata: { revoked: token !== null },
        });
      });
    },
  };
}

export type YoutubeService = ReturnType<typeof createYoutubeService>;
