import { describe, expect, it } from 'vitest';
import { renderRequestSchema, ttsRequestSchema } from '../../../shared/jobs/job-requests.ts';
import { unsafeUrlErrors } from './unsafe-url-errors.ts';

const render = (imageUrls: string[], callback?: string) => ({
  kind: 'render' as const,
  request: renderRequestSchema.parse({
    scenes: imageUrls.map((u) => ({ duration: 1, image_url: u })),
    ...(callback ? { callback_url: callback } : {}),
  }),
});

describe('submit-time URL checks', () => {
  it('when image and callback URLs are public, then nothing is reported', () => {
    expect(
      unsafeUrlErrors(render(['https://cdn.example.com/a.png'], 'https://hooks.example.com/x'), []),
    ).toEqual([]);
  });

  it('when URLs point at loopback, metadata, private ranges or localhost, then each field is named', () => {
    const errors = unsafeUrlErrors(
      render(
        [
          'https://ok.example.com/a.png',
          'http://127.0.0.1:8080/a.png',
          'http://169.254.169.254/',
          'http://localhost/x',
        ],
        'http://10.1.2.3/hook',
      ),
      [],
    );
    expect(errors.map((e) => e.path)).toEqual([
      '/callback_url',
      '/scenes/1/image_url',
      '/scenes/2/image_url',
      '/scenes/3/image_url',
    ]);
  });

  it('when FETCH_ALLOW_PRIVATE lists the address, then it is accepted', () => {
    expect(
      unsafeUrlErrors(render(['http://127.0.0.1:8080/a.png'], 'http://127.0.0.1/hook'), ['127.0.0.1']),
    ).toEqual([]);
    const tts = {
      kind: 'tts' as const,
      request: ttsRequestSchema.parse({ text: 'hi', callback_url: 'http://[::1]/' }),
    };
    expect(unsafeUrlErrors(tts, []).map((e) => e.path)).toEqual(['/callback_url']);
    expect(unsafeUrlErrors(tts, ['::1/128'])).toEqual([]);
  });
});
