import { createHash, randomBytes } from 'node:crypto';
import { z } from 'zod';
import { GoogleOAuthError } from './google-oauth-error.ts';

/** The only scope asked for: upload videos to the channel (not read or manage it). */
export const YOUTUBE_UPLOAD_SCOPE = 'https://www.googleapis.com/auth/youtube.upload';

/** A PKCE pair (RFC 7636): the verifier stays on the server, the S256 challenge goes to Google. */
export function newPkce(): { verifier: string; challenge: string } {
  // 32 random bytes → 43 base64url characters, inside RFC 7636's 43–128.
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

/**
 * The consent URL: authorization code with PKCE (S256), offline access (a refresh token) and
 * `prompt=consent` (Google only returns a refresh token on consent, so reconnecting gets a new one).
 */
export function authorizeUrl(o: {
  authorizeUrl: string;
  clientId: string;
  redirectUri: string;
  state: string;
  codeChallenge: string;
}): string {
  const url = new URL(o.authorizeUrl);
  url.search = new URLSearchParams({
    client_id: o.clientId,
    redirect_uri: o.redirectUri,
    response_type: 'code',
    scope: YOUTUBE_UPLOAD_SCOPE,
    access_type: 'offline',
    prompt: 'consent',
    include_granted_scopes: 'true',
    state: o.state,
    code_challenge: o.codeChallenge,
    code_challenge_method: 'S256',
  }).toString();
  return url.toString();
}

const tokenAnswer = z.object({
  access_token: z.string().min(1),
  expires_in: z.coerce.number().optional(),
  refresh_token: z.string().min(1).optional(),
  scope: z.string().optional(),
  token_type: z.string().optional(),
});
export type GoogleTokens = z.infer<typeof tokenAnswer>;

export interface GoogleOAuthOptions {
  clientId: string;
  clientSecret: string;
  tokenUrl: string;
  revokeUrl: string;
  /** Limit of one request. */
  timeoutMs: number;
}

/** Google's token and revoke endpoints over plain fetch (no googleapis: it is huge). */
export function createGoogleOAuth(o: GoogleOAuthOptions) {
  async function post(url: string, form: Record<string, string>, signal?: AbortSignal): Promise<Response> {
    const timeout = AbortSignal.timeout(o.timeoutMs);
    return fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams(form).toString(),
      signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
    });
  }

  async function tokens(form: Record<string, string>, signal?: AbortSignal): Promise<GoogleTokens> {
    const res = await post(
      o.tokenUrl,
      { client_id: o.clientId, client_secret: o.clientSecret, ...form },
      signal,
    );
    const body = (await res.json().catch(() => ({}))) as Record<string, unknown>;
    if (!res.ok) {
      const error = typeof body.error === 'string' ? body.error : `http_${res.status}`;
      const description = typeof body.error_description === 'string' ? `: ${body.error_description}` : '';
      throw new GoogleOAuthError(
        res.status,
        error,
        `Google token endpoint answered ${res.status} ${error}${description}`,
      );
    }
    const parsed = tokenAnswer.safeParse(body);
    if (!parsed.success)
      throw new GoogleOAuthError(
        res.status,
        'bad_answer',
        'Google token endpoint answered without an access_token',
      );
    return parsed.data;
  }

  return {
    /** Authorization code + PKCE verifier → tokens (with a refresh token, thanks to offline + consent). */
    exchangeCode(p: { code: string; codeVerifier: string; redirectUri: string }): Promise<GoogleTokens> {
      return tokens({
        grant_type: 'authorization_code',
        code: p.code,
        code_verifier: p.codeVerifier,
        redirect_uri: p.redirectUri,
      });
    },
    /** A fresh access token (about an hour) from the stored refresh token. */
    refresh(refreshToken: string, signal?: AbortSignal): Promise<GoogleTokens> {
      return tokens({ grant_type: 'refresh_token', refresh_token: refreshToken }, signal);
    },
    /**
     * Revokes the grant (the refresh token and every access token from it). A 400 `invalid_token`
     * means it is revoked already, which is what we wanted.
     */
    async revoke(token: string): Promise<void> {
      const res = await post(o.revokeUrl, { token });
      if (res.ok) return;
      const body = (await res.json().catch(() => ({}))) as Record<string, unknown>;
      const error = typeof body.error === 'string' ? body.error : `http_${res.status}`;
      if (res.status === 400 && error === 'invalid_token') return;
      throw new GoogleOAuthError(res.status, error, `Google revoke endpoint answered ${res.status} ${error}`);
    },
  };
}

export type GoogleOAuth = ReturnType<typeof createGoogleOAuth>;
