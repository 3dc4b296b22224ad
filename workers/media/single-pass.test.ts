import { describe, expect, it } from 'vitest';
import { MAX_COMPOSE_SCENES, sceneFrameCounts } from './compose.ts';
import { MediaInputError } from './media-input-error.ts';
import { singlePassArgs } from './single-pass.ts';

describe('singlePassArgs', () => {
  const base = { width: 320, height: 180, fps: 10, outPath: '/tmp/out.mp4' };
  const scene = { imagePath: '/tmp/a.png', durationSeconds: 1 };

  it('when called, then it returns one ffmpeg argv with the still-image encoder settings and no -shortest', () => {
    const args = singlePassArgs({ ...base, scenes: [scene, { ...scene, audioPath: '/tmp/a.wav' }] });
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
    const args = singlePassArgs({ ...base, scenes });
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
    for (const options of bad) expect(() => singlePassArgs(options)).toThrow(MediaInputError);
  });
});
