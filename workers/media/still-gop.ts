import { readFile } from 'node:fs/promises';
import { ffmpegFileUrl } from './probe.ts';

/**
 * Encoder settings of every video frame we produce, chosen for slideshows of still images:
 * - `-tune stillimage` lowers deblocking and psy tuning meant for motion, which keeps text edges crisp.
 * - `-preset veryfast`: after the first frame of a GOP every P-frame is "nothing changed" and costs
 *   almost no bits, so slower presets buy little.
 * - `-crf 20` (a bit below the default 23): with P-frames nearly free, the one I-frame per GOP is
 *   the picture, and small text shows artefacts first.
 * - `-bf 0`: no B-frames, so decode order is display order and the first n frames of a GOP are a
 *   valid shorter GOP (that is how a scene's remainder is cut without encoding again).
 * - `aud=1`: an access unit delimiter starts every frame, so frames are found without parsing slices.
 * - `scenecut=0`: the only keyframe of a GOP is its first frame.
 */
export const VIDEO_CODEC_ARGS = [
  '-c:v',
  'libx264',
  '-preset',
  'veryfast',
  '-tune',
  'stillimage',
  '-crf',
  '20',
];

/**
 * Frames in the GOP of a still, per second of video: 2 s of frames. Measured on the 1080p sample
 * (README, Performance): 1 s GOPs make the file 1.5× the single-pass size (every GOP repeats the
 * I-frame, ~40 KB at 1080p), 4 s GOPs cost twice the encode time of 2 s ones for ~10% less size.
 */
export const GOP_SECONDS = 2;

/** Bump when any encoder setting changes, so cached GOPs stop matching. */
export const VIDEO_ENCODER_VERSION = 'x264-veryfast-still-crf20-bf0-1';

/** Frames per GOP at `fps`. */
export function gopFrames(fps: number): number {
  return Math.max(1, Math.round(fps * GOP_SECONDS));
}

/** What one GOP of a still is encoded to. */
export interface StillGopOutput {
  /** Even integers (yuv420p): the image is scaled to fit and padded with black. */
  width: number;
  height: number;
  fps: number;
  /** Frames in the GOP, ≥ 1. */
  frames: number;
  /** Raw H.264 (Annex B) is written here. */
  outPath: string;
}

/**
 * ffmpeg output options that encode one closed GOP of `frames` identical frames of the still at
 * input `input` as raw H.264 (Annex B): an IDR frame (with SPS/PPS) and P-frames, with the settings
 * of {@link VIDEO_CODEC_ARGS}. The image is decoded once; the `loop` filter repeats the scaled
 * frame in memory.
 */
export function stillGopOutputArgs(input: number, out: StillGopOutput): string[] {
  const { width, height, fps, frames, outPath } = out;
  return [
    ...['-map', `${input}:v`, '-vf'],
    `scale=${width}:${height}:force_original_aspect_ratio=decrease,` +
      `pad=${width}:${height}:(ow-iw)/2:(oh-ih)/2:color=black,setsar=1,format=yuv420p,` +
      `loop=loop=${frames - 1}:size=1:start=0,setpts=N/${fps}/TB`,
    ...['-frames:v', String(frames), ...VIDEO_CODEC_ARGS],
    ...['-g', String(frames), '-bf', '0', '-x264-params', 'scenecut=0:aud=1'],
    ...['-pix_fmt', 'yuv420p', '-r', String(fps), '-f', 'h264', ffmpegFileUrl(outPath)],
  ];
}

/**
 * Splits raw H.264 written by {@link stillGopOutputArgs} into access units (one per frame), at each
 * access unit delimiter (NAL type 9). Start codes cannot occur inside NAL payloads (emulation
 * prevention), so a byte scan is exact.
 */
export function accessUnits(stream: Buffer): Buffer[] {
  const starts: number[] = [];
  for (let i = 0; i + 3 < stream.length; i++) {
    if (stream[i] === 0 && stream[i + 1] === 0 && stream[i + 2] === 1 && (stream[i + 3]! & 0x1f) === 9) {
      starts.push(i > 0 && stream[i - 1] === 0 ? i - 1 : i);
      i += 3;
    }
  }
  if (starts[0] !== 0) throw new Error('H.264 stream does not start with an access unit delimiter');
  return starts.map((s, k) => stream.subarray(s, starts[k + 1] ?? stream.length));
}

/** Reads a GOP file into its frames. */
export async function readGop(path: string): Promise<Buffer[]> {
  return accessUnits(await readFile(path));
}

/**
 * The chunks of a scene of `frames` frames built from its GOP by copying: ⌊frames / G⌋ whole GOPs,
 * then the first `frames mod G` frames of the GOP (a shorter closed GOP). Every GOP, the remainder
 * too, starts with the IDR frame, so the scene starts on a keyframe.
 */
export function sceneFromGop(gop: readonly Buffer[], frames: number): Buffer[] {
  const whole = Buffer.concat(gop);
  const chunks: Buffer[] = [];
  for (let n = Math.floor(frames / gop.length); n > 0; n--) chunks.push(whole);
  const rest = frames % gop.length;
  if (rest > 0) chunks.push(Buffer.concat(gop.slice(0, rest)));
  return chunks;
}
