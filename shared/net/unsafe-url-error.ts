import { TaskError } from '../errors/task-error.ts';

/** Why a URL was refused. */
export type UnsafeUrlReason =
  /** Not parseable as an absolute URL. */
  | 'invalid_url'
  /** Not `http:` or `https:` (`file:`, `ftp:`, `data:`, `gopher:`...). */
  | 'unsupported_scheme'
  /** A name that always means this machine (`localhost`, `*.localhost`). */
  | 'local_hostname'
  /** The host is, or resolved to, a loopback/private/link-local/reserved address. */
  | 'private_address';

/**
 * A URL that must not be fetched from the server side (SSRF guard). The message names the host but never
 * the full URL, which may carry tokens in its query.
 */
export class UnsafeUrlError extends TaskError {
  readonly reason: UnsafeUrlReason;

  constructor(reason: UnsafeUrlReason, message: string) {
    super(message, 'unsafe_url', false);
    this.reason = reason;
  }
}
