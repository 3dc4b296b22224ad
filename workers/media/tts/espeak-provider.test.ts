import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MediaInputError } from '../media-input-error.ts';
import { probeMedia } from '../probe.ts';
import { createEspeakProvider } from './espeak-provider.ts';
import type { TtsProvider } from './tts-provider.ts';

let dir = '';
let tts: TtsProvider;
const signal = new AbortController().signal;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'espeak-test-'));
  tts = await createEspeakProvider();
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('createEspeakProvider', () => {
  it('when created, then it reports the installed espeak-ng version', () => {
    expect(tts.name).toBe('espeak-ng');
    expect(tts.version).toMatch(/^\d+\.\d+/);
  });

  it('when synthesizing a sentence, then it writes a WAV longer than 0.5 s and reports its duration', async () => {
    const outPath = join(dir, 'sentence.wav');
    const { durationSeconds } = await tts.synthesize({
      text: 'Rendering your video now, please wait.',
      voice: 'en-us',
      outPath,
      signal,
    });
    expect(durationSeconds).toBeGreaterThan(0.5);
    const info = await probeMedia(outPath);
    expect(info.audio?.codec).toBe('pcm_s16le');
    expect(info.durationSeconds).toBeCloseTo(durationSeconds, 3);
  });

  it('when the text starts with "-", then it is spoken rather than read as an option', async () => {
    const { durationSeconds } = await tts.synthesize({
      text: '--help -v minus five',
      voice: 'en',
      outPath: join(dir, 'dash.wav'),
      signal,
    });
    expect(durationSeconds).toBeGreaterThan(0.5);
  });

  it('when the voice is malformed, then it rejects with MediaInputError before running espeak-ng', async () => {
    for (const voice of ['-w /etc/passwd', 'EN', 'en+f3', '../en', '']) {
      const error = await tts
        .synthesize({ text: 'hi', voice, outPath: join(dir, 'bad.wav'), signal })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(MediaInputError);
      expect((error as MediaInputError).code).toBe('bad_input');
    }
  });

  it('when the voice is well-formed but not installed, then it rejects with MediaInputError', async () => {
    await expect(
      tts.synthesize({ text: 'hi', voice: 'zz-nope', outPath: join(dir, 'unknown.wav'), signal }),
    ).rejects.toBeInstanceOf(MediaInputError);
  });

  it('when the text is blank, then it rejects with MediaInputError', async () => {
    await expect(
      tts.synthesize({ text: '  \n', voice: 'en', outPath: join(dir, 'blank.wav'), signal }),
    ).rejects.toBeInstanceOf(MediaInputError);
  });

  it('when the signal is aborted, then it rejects with the reason', async () => {
    const reason = new Error('canceled');
    await expect(
      tts.synthesize({
        text: 'hello',
        voice: 'en',
        outPath: join(dir, 'aborted.wav'),
        signal: AbortSignal.abort(reason),
      }),
    ).rejects.toBe(reason);
  });
});
