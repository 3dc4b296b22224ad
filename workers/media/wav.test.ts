import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probeMedia } from './probe.ts';
import { runProcess } from './run-process.ts';
import { wavDurationSeconds } from './wav.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'wav-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('wavDurationSeconds', () => {
  it('when espeak-ng writes a WAV, then the header duration equals what ffprobe measures', async () => {
    const out = path.join(dir, 'speech.wav');
    await runProcess('espeak-ng', ['-v', 'en', '-w', out, '--stdin'], {
      input: 'Measure me without spawning ffprobe.',
    });
    const fromHeader = await wavDurationSeconds(out);
    const probed = await probeMedia(out);
    expect(fromHeader).not.toBeNull();
    expect(Math.abs(fromHeader! - probed.durationSeconds)).toBeLessThan(0.01);
  });

  it('when ffmpeg writes a stereo 48 kHz WAV with extra chunks, then the duration is still right', async () => {
    const out = path.join(dir, 'tone.wav');
    await runProcess('ffmpeg', [
      '-v',
      'error',
      '-f',
      'lavfi',
      '-i',
      'sine=d=1.5:r=48000',
      '-ac',
      '2',
      '-metadata',
      'title=x',
      '-y',
      out,
    ]);
    expect(Math.abs((await wavDurationSeconds(out))! - 1.5)).toBeLessThan(0.01);
  });

  it('when the file is not a PCM WAV or its data size is a placeholder, then it answers null', async () => {
    const notWav = path.join(dir, 'x.wav');
    await writeFile(notWav, 'hello, not a wav');
    expect(await wavDurationSeconds(notWav)).toBeNull();
    const header = Buffer.alloc(44);
    header.write('RIFF', 0, 'ascii');
    header.write('WAVE', 8, 'ascii');
    header.write('fmt ', 12, 'ascii');
    header.writeUInt32LE(16, 16);
    header.writeUInt16LE(1, 20);
    header.writeUInt32LE(44100 * 2, 28);
    header.write('data', 36, 'ascii');
    header.writeUInt32LE(0xffffffff, 40);
    const streamed = path.join(dir, 'streamed.wav');
    await writeFile(streamed, header);
    expect(await wavDurationSeconds(streamed)).toBeNull();
  });
});
