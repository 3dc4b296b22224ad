import type { Config } from '../config/config.ts';
import { createGoogleOAuth, type GoogleOAuth } from './google-oauth.ts';

type GoogleConfig = Pick<
  Config,
  | 'GOOGLE_OAUTH_CLIENT_ID'
  | 'GOOGLE_OAUTH_CLIENT_SECRET'
  | 'GOOGLE_OAUTH_TOKEN_URL'
  | 'GOOGLE_OAUTH_REVOKE_URL'
  | 'GOOGLE_HTTP_TIMEOUT_SECONDS'
>;

/** Google's token and revoke endpoints as this deployment configures them; null without an OAuth client. */
export function googleOAuthFromConfig(config: GoogleConfig): GoogleOAuth | null {
  if (!config.GOOGLE_OAUTH_CLIENT_ID || !config.GOOGLE_OAUTH_CLIENT_SECRET) return null;
  return createGoogleOAuth({
    clientId: config.GOOGLE_OAUTH_CLIENT_ID,
    clientSecret: config.GOOGLE_OAUTH_CLIENT_SECRET,
    tokenUrl: config.GOOGLE_OAUTH_TOKEN_URL,
    revokeUrl: config.GOOGLE_OAUTH_REVOKE_URL,
    timeoutMs: config.GOOGLE_HTTP_TIMEOUT_SECONDS * 1000,
  });
}
