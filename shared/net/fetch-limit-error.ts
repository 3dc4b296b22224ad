/** Which limit of a fetch was exceeded. */
export type FetchLimit =
  /** The body (or its announced Content-Length) is larger than `maxBytes`. */
  | 'max_bytes'
  /** More redirects than `maxRedirects`. */
  | 'max_redirects'
  /** The response's content type is not in `allowedContentTypes`. */
  | 'content_type';

/** A response was refused because it exceeds what the caller accepts. */
export class FetchLimitError extends Error {
  override readonly name = 'FetchLimitError';
  readonly limit: FetchLimit;

  constructor(limit: FetchLimit, message: string) {
    super(message);
    this.limit = limit;
  }
}
