import { TaskError } from '../../shared/errors/task-error.ts';

/**
 * The caller's input cannot be rendered (bad voice, undecodable image, impossible size...).
 * Retrying will not help, so the worker should fail the job as `bad_input` instead of retrying.
 */
export class MediaInputError extends TaskError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 'bad_input', false, options);
  }
}
