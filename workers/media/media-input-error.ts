/**
 * The caller's input cannot be rendered (bad voice, undecodable image, impossible size...).
 * Retrying will not help, so the worker should fail the job as `bad_input` instead of retrying.
 */
export class MediaInputError extends Error {
  override readonly name = 'MediaInputError';
  readonly code = 'bad_input';

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}
