import { TaskError } from '../../../shared/errors/task-error.ts';

/**
 * The hosted TTS provider cannot speak and no fallback is configured (`TTS_FALLBACK=none`).
 * Retried with the job's backoff (the provider may come back); after the last attempt the job
 * fails with code `tts_unavailable`.
 */
export class TtsUnavailableError extends TaskError {
  constructor(message: string) {
    super(message, 'tts_unavailable', true);
  }
}
