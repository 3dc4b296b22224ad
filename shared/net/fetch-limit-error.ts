import { TaskError } from '../errors/task-error.ts';

/** Which limit of a fetch was exceeded. */
export type FetchLimit =
  /** The body (or its announced Content-Length) is larger than `maxBytes`. */
  | 'max_bytes'
  /** More redirects than `maxRedirects`. */
  | 'max_redirects'
  /** The response's content type is not in `allowedContentTypes`. */
  | 'content_type';

/** A response was refused because it exceeds what the caller accepts. */
export class FetchLimitError extends TaskError {
  readonly limit: FetchLimit;

  constructor(limit: FetchLimit, message: string) {
    super(message, 'fetch_refused', false);
    this.limit = limit;
  }
}
