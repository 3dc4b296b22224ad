import { AuthenticationError, type Me, Rendermill } from './rendermill.ts';

/**
 * The browser session. The access token lives in this object only (never in storage); the
 * refresh token is an HttpOnly cookie the page cannot read. A reload restores the session by
 * one cookie refresh. Refreshes are single-flight in a tab and serialised across tabs (Web
 * Locks), because presenting a rotated refresh token twice revokes the whole session.
 */
export type SessionState =
  | { status: 'loading' }
  | { status: 'signed-out'; reason?: string }
  | { status: 'signed-in'; me: Me };

// The CSRF header the API asks of cookie-authenticated calls (harmless on the others).
const HEADERS = { 'X-Rendermill-Csrf': '1' };

export class Session {
  #state: SessionState = { status: 'loading' };
  #token: string | null = null;
  #refreshing: Promise<void> | null = null;
  readonly #listeners = new Set<() => void>();

  /** A client without a token: sign-in and the cookie calls. */
  readonly anonymous = new Rendermill({ headers: HEADERS });

  get state(): SessionState {
    return this.#state;
  }

  subscribe = (listener: () => void): (() => void) => {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  };

  #set(state: SessionState): void {
    this.#state = state;
    for (const l of this.#listeners) l();
  }

  /** A client bound to the current access token. */
  client(): Rendermill {
    return new Rendermill({
      headers: HEADERS,
      ...(this.#token ? { accessToken: this.#token } : {}),
    });
  }

  /**
   * Runs one API call with the current token; on a 401 it refreshes once and retries. When the
   * refresh fails too (signed out elsewhere, session revoked) the app shows the sign-in page.
   */
  async call<T>(fn: (rm: Rendermill) => Promise<T>): Promise<T> {
    if (!this.#token) await this.refresh();
    try {
      return await fn(this.client());
    } catch (err) {
      if (!(err instanceof AuthenticationError)) throw err;
      await this.refresh();
      return fn(this.client());
    }
  }

  /** Trades the refresh cookie for a new access token (and a rotated cookie). */
  refresh(): Promise<void> {
    this.#refreshing ??= this.#withLock(async () => {
      try {
        this.#token = (await this.anonymous.auth.refresh()).access_token;
      } catch (err) {
        this.#signedOut(
          err instanceof AuthenticationError ? 'Your session has ended. Sign in again.' : undefined,
        );
        throw err;
      }
    }).finally(() => {
      this.#refreshing = null;
    });
    return this.#refreshing;
  }

  #withLock(work: () => Promise<void>): Promise<void> {
    const locks = typeof navigator !== 'undefined' ? navigator.locks : undefined;
    return locks ? locks.request('rendermill-refresh', work).then(() => undefined) : work();
  }

  #signedOut(reason?: string): void {
    this.#token = null;
    this.#set(reason ? { status: 'signed-out', reason } : { status: 'signed-out' });
  }

  /** On page load: a live refresh cookie means we are still signed in. */
  async restore(): Promise<void> {
    try {
      await this.refresh();
      this.#set({ status: 'signed-in', me: await this.client().me.get() });
    } catch {
      this.#signedOut();
    }
  }

  /** Spends the emailed token; the refresh token comes back as the cookie. */
  async completeSignIn(token: string): Promise<void> {
    const signedIn = await this.anonymous.auth.verify({ token, session: 'cookie' });
    this.#token = signedIn.access_token;
    this.#set({ status: 'signed-in', me: await this.client().me.get() });
  }

  /** Reads `GET /v1/me` again (after the workspace was renamed). */
  async reloadMe(): Promise<void> {
    const me = await this.call((rm) => rm.me.get());
    if (this.state.status === 'signed-in') this.#set({ status: 'signed-in', me });
  }

  async signOut(): Promise<void> {
    await this.anonymous.auth.signOut().catch(() => undefined);
    this.#signedOut();
  }

  /** Ends every session of this user (all browsers, the CLI), then this one's cookie. */
  async signOutEverywhere(): Promise<void> {
    await this.call((rm) => rm.auth.logoutAll());
    await this.anonymous.auth.signOut().catch(() => undefined);
    this.#signedOut('You were signed out everywhere.');
  }
}
