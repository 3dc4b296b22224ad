import { TaskError } from '../../../shared/errors/task-error.ts';

/**
 * The hosted TTS service failed in a way worth trying again: 5xx, 429, or an answer that is not a
 * WAV. `status` is absent when the answer was not an HTTP error (a bad body); `retryAfterMs` comes
 * from a `Retry-After` header (seconds or an HTTP date).
 */
export class TtsHttpError extends TaskError {
  constructor(
    message: string,
    readonly status?: number,
    readonly retryAfterMs?: number,
  ) {
    super(message, 'step_failed', true);
  }
}
