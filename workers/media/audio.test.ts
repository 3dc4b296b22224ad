import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeSilence, mp3Encoder, wavToMp3 } from './audio.ts';
import { MediaInputError } from './media-input-error.ts';
import { probeMedia } from './probe.ts';

let dir = '';
const signal = new AbortController().signal;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'audio-test-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('makeSilence', () => {
  it('when asked for 1.5 s, then it writes a 1.5 s PCM WAV', async () => {
    const path = join(dir, 'silence.wav');
    await makeSilence(path, 1.5, signal);
    const info = await probeMedia(path);
    expect(info.durationSeconds).toBeCloseTo(1.5, 2);
    expect(info.audio).toEqual({ codec: 'pcm_s16le', sampleRate: 48000, channels: 1 });
  });

  it('when the duration is not positive, then it rejects with MediaInputError', async () => {
    await expect(makeSilence(join(dir, 'x.wav'), 0, signal)).rejects.toBeInstanceOf(MediaInputError);
  });
});

describe('wavToMp3', () => {
  it('when given a WAV, then it writes an MP3 of the same length', async () => {
    const wav = join(dir, 'in.wav');
    const mp3 = join(dir, 'out.mp3');
    await makeSilence(wav, 1, signal);
    await wavToMp3(wav, mp3, signal);
    const info = await probeMedia(mp3);
    expect(info.audio?.codec).toBe('mp3');
    expect(info.durationSeconds).toBeGreaterThan(0.9);
    expect(info.durationSeconds).toBeLessThan(1.2);
  });

  it('when this ffmpeg has libmp3lame, then it is the encoder chosen', async () => {
    expect(await mp3Encoder()).toBe('libmp3lame');
  });
});
