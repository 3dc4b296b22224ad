import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probeMedia } from './probe.ts';
import { ProcessFailedError } from './process-failed-error.ts';
import { runProcess } from './run-process.ts';

let dir = '';

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'probe-test-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('probeMedia', () => {
  it('when given a video with audio, then it reports codecs, size, fps and duration', async () => {
    // A name starting with "-" and containing ":" would be an option or a protocol without the file: prefix.
    const path = join(dir, '-clip:1.mp4');
    await runProcess('ffmpeg', [
      ...['-v', 'error', '-f', 'lavfi', '-i', 'testsrc=size=160x90:rate=10', '-f', 'lavfi'],
      ...['-i', 'sine=frequency=440:sample_rate=44100', '-t', '1', '-c:v', 'libx264', '-pix_fmt', 'yuv420p'],
      ...['-c:a', 'aac', '-ac', '1', `file:${path}`],
    ]);
    const info = await probeMedia(path);
    expect(info.durationSeconds).toBeGreaterThan(0.9);
    expect(info.durationSeconds).toBeLessThan(1.2);
    expect(info.bytes).toBeGreaterThan(0);
    expect(info.video).toEqual({ codec: 'h264', width: 160, height: 90, pixFmt: 'yuv420p', fps: 10 });
    expect(info.audio).toEqual({ codec: 'aac', sampleRate: 44100, channels: 1 });
  });

  it('when the file is not media, then it rejects with ProcessFailedError', async () => {
    const path = join(dir, 'not-media.mp4');
    await writeFile(path, 'hello');
    await expect(probeMedia(path)).rejects.toBeInstanceOf(ProcessFailedError);
  });
});
