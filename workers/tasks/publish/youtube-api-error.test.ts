import { describe, expect, it } from 'vitest';
import { nextByte } from './resumable-upload.ts';
import { YoutubeApiError } from './youtube-api-error.ts';

const answer = (status: number, reason?: string) =>
  YoutubeApiError.from(
    new Response(JSON.stringify(reason ? { error: { message: 'm', errors: [{ reason }] } } : {}), { status }),
    'chunk upload',
  );

describe('YouTube upload errors', () => {
  it.each([
    [503, undefined, true],
    [500, 'backendError', true],
    [429, undefined, true],
    [403, 'quotaExceeded', true],
    [403, 'rateLimitExceeded', true],
    [403, 'userRateLimitExceeded', true],
    [403, 'forbidden', false],
    [400, 'invalidTitle', false],
    [401, 'authError', false],
  ])('when YouTube answers %i %s, then retryable is %s', async (status, reason, retryable) => {
    const err = await answer(status, reason);
    expect(err.retryable).toBe(retryable);
    expect(err.code).toBe(retryable ? 'youtube_unavailable' : 'youtube_rejected');
    expect(err.reason).toBe(reason ?? null);
  });

  it('when a 308 names the bytes it holds, then the upload continues after the last one', () => {
    expect(nextByte('bytes=0-524287')).toBe(524_288);
    expect(nextByte(null)).toBe(0);
    expect(nextByte('garbage')).toBe(0);
  });
});
