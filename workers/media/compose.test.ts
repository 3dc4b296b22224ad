import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { composeArgs, composeVideo, MAX_COMPOSE_SCENES, sceneFrameCounts } from './compose.ts';
import { MediaInputError } from './media-input-error.ts';
import { probeMedia } from './probe.ts';
import { ProcessFailedError } from './process-failed-error.ts';
import { runProcess } from './run-process.ts';
import { renderSceneCard } from './scene-card.ts';
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
    const scenes = Array.from({ length: 3 }, () => ({ imagePath, durationSeconds: 60 }));
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
    expect(pids).toHaveLength(1);
    await new Promise((resolve) => setTimeout(resolve, 200)); // let it get into encoding

    const reason = new Error('job canceled');
    controller.abort(reason);
    expect(await composing).toBe(reason);
    expect(await ffmpegChildren()).toEqual([]);
    expect(() => process.kill(pids[0]!, 0)).toThrow(expect.objectContaining({ code: 'ESRCH' }));
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

describe('composeArgs', () => {
  const base = { width: 320, height: 180, fps: 10, outPath: '/tmp/out.mp4' };
  const scene = { imagePath: '/tmp/a.png', durationSeconds: 1 };

  it('when called, then it returns one ffmpeg argv with the still-image encoder settings and no -shortest', () => {
    const args = composeArgs({ ...base, scenes: [scene, { ...scene, audioPath: '/tmp/a.wav' }] });
    const joined = args.join(' ');
    expect(joined).toContain('-c:v libx264 -preset veryfast -tune stillimage -crf 20');
    expect(joined).toContain('-g 40 -force_key_frames 0.000000,1.000000');
    expect(joined).toContain('-pix_fmt yuv420p -r 10');
    expect(joined).toContain('-movflags +faststart');
    expect(joined).toContain('-f lavfi -t 1.000000 -i anullsrc=r=48000:cl=stereo');
    expect(joined).toContain('-i file:/tmp/a.wav');
    expect(args).not.toContain('-shortest');
    expect(args.at(-1)).toBe('file:/tmp/out.mp4');
  });

  it('when scene durations do not fall on frames, then rounding errors do not accumulate', () => {
    const frames = sceneFrameCounts(Array<number>(30).fill(0.33), 10);
    expect(frames.reduce((a, b) => a + b, 0)).toBe(Math.round(30 * 0.33 * 10));
  });

  it('when there are 50 scenes, then every argument stays far below the 128 KiB per-argument limit', () => {
    const scenes = Array.from({ length: MAX_COMPOSE_SCENES }, (_, i) => ({
      imagePath: `/tmp/render/job-0123456789abcdef/scene-${i}.png`,
      audioPath: i % 2 ? `/tmp/render/job-0123456789abcdef/scene-${i}.wav` : undefined,
      durationSeconds: 2.5,
    }));
    const args = composeArgs({ ...base, scenes });
    expect(Math.max(...args.map((a) => Buffer.byteLength(a)))).toBeLessThan(32 * 1024);
  });

  it('when the options are impossible, then it throws MediaInputError', () => {
    const bad = [
      { ...base, width: 321, scenes: [scene] },
      { ...base, height: 0, scenes: [scene] },
      { ...base, fps: 0, scenes: [scene] },
      { ...base, scenes: [] },
      { ...base, scenes: Array<typeof scene>(MAX_COMPOSE_SCENES + 1).fill(scene) },
      { ...base, scenes: [{ ...scene, durationSeconds: Number.NaN }] },
      { ...base, scenes: [{ ...scene, durationSeconds: 0.01 }] },
    ];
    for (const options of bad) expect(() => composeArgs(options)).toThrow(MediaInputError);
  });
});
