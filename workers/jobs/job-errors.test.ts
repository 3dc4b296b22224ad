import { describe, expect, it } from 'vitest';
import { FetchLimitError } from '../../shared/net/fetch-limit-error.ts';
import { UnsafeUrlError } from '../../shared/net/unsafe-url-error.ts';
import { MediaInputError } from '../media/media-input-error.ts';
import { ProcessFailedError } from '../media/process-failed-error.ts';
import { BadInputError, classifyError, JobCanceledError, StepTimeoutError, TaskError } from './job-errors.ts';

describe('classifyError', () => {
  it('when a step throws one of our errors, then its code and retryable decide', () => {
    expect(classifyError(new UnsafeUrlError('private_address', 'no'))).toMatchObject({
      code: 'unsafe_url',
      retryable: false,
    });
    expect(classifyError(new FetchLimitError('max_bytes', 'big'))).toMatchObject({
      code: 'fetch_refused',
      retryable: false,
    });
    expect(classifyError(new MediaInputError('voice'))).toMatchObject({
      code: 'bad_input',
      retryable: false,
    });
    expect(classifyError(new BadInputError('gone', 'image_unavailable'))).toMatchObject({
      code: 'image_unavailable',
      retryable: false,
    });
    expect(classifyError(new StepTimeoutError('compose', 1500))).toMatchObject({
      code: 'step_timeout',
      retryable: true,
      message: 'step compose did not finish within 1.5 s',
    });
    expect(classifyError(new JobCanceledError())).toMatchObject({ code: 'canceled', retryable: false });
    expect(classifyError(new ProcessFailedError('ffmpeg', 1, null, 'boom'))).toMatchObject({
      code: 'step_failed',
      retryable: true,
    });
  });

  it('when an error class is renamed or subclassed, then it is classified the same (no name matching)', () => {
    class RenamedInputError extends MediaInputError {}
    const e = new RenamedInputError('bad');
    Object.defineProperty(e, 'name', { value: 'SomethingElse' });
    expect(classifyError(e)).toMatchObject({ code: 'bad_input', retryable: false });
    // A plain Error named like one of ours is still just unexpected.
    const impostor = new Error('x');
    impostor.name = 'UnsafeUrlError';
    expect(classifyError(impostor)).toMatchObject({ code: 'step_failed', retryable: true });
    expect(classifyError(new TaskError('quota', 'custom_code', false))).toMatchObject({
      code: 'custom_code',
      retryable: false,
    });
  });

  it('when anything else is thrown, then it is step_failed, retried, with the message cut to 500 characters', () => {
    expect(classifyError(new Error('x'.repeat(600)))).toMatchObject({ code: 'step_failed', retryable: true });
    expect(classifyError(new Error('x'.repeat(600))).message).toHaveLength(500);
    expect(classifyError('plain string')).toMatchObject({ code: 'step_failed', message: 'plain string' });
  });
});
