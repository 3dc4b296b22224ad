/**
 * Base of every error that maps to an HTTP answer. Handlers throw these; the one error
 * middleware (`api/http/error-handler.ts`) writes them as problem+json.
 */
export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly title: string,
    detail?: string,
    /** Extension members written beside the standard problem fields. */
    readonly extras: Record<string, unknown> = {},
    /** Extra response headers (e.g. Retry-After). */
    readonly headers: Record<string, string> = {},
  ) {
    super(detail ?? title);
    this.name = new.target.name;
  }
}
