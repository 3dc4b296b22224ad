import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { composeVideo, sceneFrameCounts } from './compose.ts';
import { decodeErrors, keyframeTimes, measureSsim, soundOnsets, videoStream } from './media-checks.ts';
import { probeMedia } from './probe.ts';
import { ProcessFailedError } from './process-failed-error.ts';
import { runProcess } from './run-process.ts';
import { renderSceneCard } from './scene-card.ts';
import { singlePassArgs } from './single-pass.ts';
import { createEspeakProvider } from './tts/espeak-provider.ts';

let dir = '';
const signal = new AbortController().signal;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'compose-test-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Our direct children that are ffmpeg, from ps. */
async function ffmpegChildren(): Promise<number[]> {
  try {
    const { stdout } = await runProcess('ps', ['-o', 'pid=,comm=', '--ppid', String(process.pid)]);
    return stdout
      .split('\n')
      .map((line) => line.trim().split(/\s+/))
      .filter(([, comm]) => comm === 'ffmpeg')
      .map(([pid]) => Number(pid));
  } catch (error) {
    if (error instanceof ProcessFailedError && error.exitCode === 1) return [];
    throw error;
  }
}

describe('composeVideo', () => {
  it('when given scenes with speech and one silent scene, then the MP4 is H.264/AAC at the size and summed duration', async () => {
    const tts = await createEspeakProvider();
    const [w, h, fps] = [320, 180, 15];
    const card = async (name: string, title: string): Promise<string> => {
      const outPath = join(dir, `${name}.png`);
      await renderSceneCard({
        width: w,
        height: h,
        background: '#203040',
        title,
        text: 'Scene text',
        outPath,
      });
      return outPath;
    };
    const speech = async (name: string, text: string): Promise<string> => {
      const outPath = join(dir, `${name}.wav`);
      await tts.synthesize({ text, voice: 'en', outPath, signal });
      return outPath;
    };
    const [img1, img2, img3, wav1, wav2] = await Promise.all([
      card('s1', 'One'),
      card('s2', 'Two'),
      card('s3', 'Three'),
      speech('s1', 'Hello.'), // shorter than its scene: padded
      speech('s2', 'This narration is clearly longer than the scene it belongs to.'), // cut
    ]);
    const scenes = [
      { imagePath: img1, audioPath: wav1, durationSeconds: 1.5 },
      { imagePath: img2, audioPath: wav2, durationSeconds: 1.2 },
      { imagePath: img3, durationSeconds: 1.0 },
    ];
    const outPath = join(dir, 'out.mp4');

    const result = await composeVideo({ scenes, width: w, height: h, fps, outPath, signal });

    const info = await probeMedia(outPath);
    const expected = 1.5 + 1.2 + 1.0;
    expect(info.video).toMatchObject({ codec: 'h264', pixFmt: 'yuv420p', width: w, height: h, fps });
    expect(info.audio).toMatchObject({ codec: 'aac', sampleRate: 48000, channels: 2 });
    expect(Math.abs(info.durationSeconds - expected)).toBeLessThanOrEqual(0.1);
    expect(result).toEqual({ durationSeconds: info.durationSeconds, bytes: info.bytes });
  });

  it('when aborted mid-encode, then ffmpeg is killed and it rejects with the reason', async () => {
    const imagePath = join(dir, 'big.png');
    await renderSceneCard({
      width: 1280,
      height: 720,
      background: '#445566',
      title: 'Long',
      outPath: imagePath,
    });
    const controller = new AbortController();
    // Long enough at 720p that the GOP encodes are still running when the abort comes.
    const scenes = Array.from({ length: 3 }, () => ({ imagePath, durationSeconds: 600 }));
    const composing = composeVideo({
      scenes,
      width: 1280,
      height: 720,
      fps: 30,
      outPath: join(dir, 'aborted.mp4'),
      signal: controller.signal,
    }).catch((e: unknown) => e);

    let pids: number[] = [];
    const deadline = Date.now() + 5000;
    while (pids.length === 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      pids = await ffmpegChildren();
    }
    expect(pids.length).toBeGreaterThanOrEqual(1);
    await new Promise((resolve) => setTimeout(resolve, 200)); // let it get into encoding

    const reason = new Error('job canceled');
    controller.abort(reason);
    expect(await composing).toBe(reason);
    // A killed child may still be listed until its exit is reaped; it must be gone within a second.
    await expect.poll(ffmpegChildren, { timeout: 1000, interval: 20 }).toEqual([]);
    for (const pid of pids)
      expect(() => process.kill(pid, 0)).toThrow(expect.objectContaining({ code: 'ESRCH' }));
  });

  it('when an image cannot be read, then it rejects with ProcessFailedError', async () => {
    await expect(
      composeVideo({
        scenes: [{ imagePath: join(dir, 'missing.png'), durationSeconds: 1 }],
        width: 160,
        height: 90,
        fps: 10,
        outPath: join(dir, 'missing.mp4'),
        signal,
      }),
    ).rejects.toBeInstanceOf(ProcessFailedError);
  });
});

describe('composeVideo against the single-pass encode', () => {
  it('when scenes are joined from GOPs, then frames, keyframes, sync and quality match the single-pass output and it decodes cleanly', async () => {
    const [w, h, fps] = [320, 180, 30];
    const tone = async (name: string): Promise<string> => {
      const outPath = join(dir, `${name}.wav`);
      // A 0.3 s beep then silence: its onset marks where the scene's audio starts.
      await runProcess('ffmpeg', [
        ...['-v', 'error', '-y', '-f', 'lavfi', '-i', 'sine=f=880:d=0.3:r=22050'],
        ...['-af', 'apad=pad_dur=0.2', outPath],
      ]);
      return outPath;
    };
    const card = async (name: string, background: string): Promise<string> => {
      const outPath = join(dir, `${name}.png`);
      await renderSceneCard({ width: w, height: h, background, title: name, text: 'Some words', outPath });
      return outPath;
    };
    // 61 frames: two GOP copies and a one-frame remainder, right before the next scene's IDR frame.
    const durations = [61 / fps, 1.37, 0.9, 2.23];
    const [i0, i1, i2, i3, a0, a1, a3] = await Promise.all([
      card('q0', '#1e3a8a'),
      card('q1', '#065f46'),
      card('q2', '#7c2d12'),
      card('q3', '#f3f4f6'),
      tone('q0'),
      tone('q1'),
      tone('q3'),
    ]);
    const scenes = [
      { imagePath: i0, audioPath: a0, durationSeconds: durations[0]! },
      { imagePath: i1, audioPath: a1, durationSeconds: durations[1]! },
      { imagePath: i2, durationSeconds: durations[2]! }, // silent
      { imagePath: i3, audioPath: a3, durationSeconds: durations[3]! },
    ];
    const outPath = join(dir, 'joined.mp4');
    const referencePath = join(dir, 'single.mp4');
    await composeVideo({ scenes, width: w, height: h, fps, outPath, signal });
    await runProcess('ffmpeg', singlePassArgs({ scenes, width: w, height: h, fps, outPath: referencePath }));

    const total = durations.reduce((a, b) => a + b, 0);
    const stream = await videoStream(outPath);
    expect(stream).toEqual({ nbFrames: Math.round(total * fps), rFrameRate: '30/1', avgFrameRate: '30/1' });

    const frames = sceneFrameCounts(durations, fps);
    const starts = frames.map((_, i) => frames.slice(0, i).reduce((a, b) => a + b, 0) / fps);
    const keys = await keyframeTimes(outPath);
    for (const start of starts) expect(keys.some((k) => Math.abs(k - start) < 1e-3)).toBe(true);
    // The same scene starts as the single-pass renderer (which also has keyframes every 4 s).
    const reference = await keyframeTimes(referencePath);
    for (const start of starts) expect(reference.some((k) => Math.abs(k - start) < 1e-3)).toBe(true);

    // Audio: every beep starts within one frame of its scene's first frame.
    const onsets = await soundOnsets(outPath);
    for (const i of [1, 3]) {
      const onset = onsets.find((t) => Math.abs(t - starts[i]!) < 0.5);
      expect(onset, `scene ${i} audio`).toBeDefined();
      // The bound is one frame; the grid places audio within 512 samples (10.7 ms), plus detection slack.
      expect(Math.abs(onset! - starts[i]!)).toBeLessThanOrEqual(Math.min(1 / fps, 0.0107 + 0.002));
    }
    const info = await probeMedia(outPath);
    expect(info.audio).toMatchObject({ codec: 'aac', sampleRate: 48000, channels: 2 });
    expect(info.video).toMatchObject({ codec: 'h264', pixFmt: 'yuv420p', width: w, height: h });

    expect(await decodeErrors(outPath)).toBe('');
    const ssim = await measureSsim(outPath, referencePath);
    expect(ssim.frames).toBe(Math.round(total * fps));
    expect(ssim.mean).toBeGreaterThanOrEqual(0.99);
    expect(ssim.min).toBeGreaterThanOrEqual(0.97);
  });
});
