import type { Http } from './http.ts';
import type { EventType, StreamedEvent } from './types.ts';
export interface StreamOptions {
  /** Resume after this stream id (a previous event's `streamId`). Default: from now on. */
  since?: string;
  types?: EventType[];
  jobId?: string;
  signal?: AbortSignal;
  /** Reconnect after a dropped connection (with the last id, so nothing kept is lost). Default true. */
  reconnect?: boolean;
}
/**
 * `GET /v1/events` as an async iterator. A dropped connection is resumed from the last id seen
 * (the server keeps 24 h); stop with `break` or the signal.
 */
export declare function streamEvents(http: Http, opts?: StreamOptions): AsyncGenerator<StreamedEvent>;
