/** Google's token or revoke endpoint refused (`error`: `invalid_grant` = the grant was revoked or expired). */
export class GoogleOAuthError extends Error {
  override readonly name = 'GoogleOAuthError';
  constructor(
    readonly status: number,
    /** OAuth `error` code from the answer, or `http_<status>` when it had none. */
    readonly error: string,
    message: string,
  ) {
    super(message);
  }

  /** The refresh token no longer works: the tenant must connect again (retrying cannot help). */
  get grantRevoked(): boolean {
    return this.error === 'invalid_grant' || this.error === 'unauthorized_client';
  }
}
