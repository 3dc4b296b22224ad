import { MediaInputError } from './media-input-error.ts';
import { ffmpegFileUrl, probeMedia } from './probe.ts';
import { runProcess } from './run-process.ts';

/** One still image shown for `durationSeconds`, with its narration (or silence). */
export interface ComposeScene {
  /** Image ffmpeg can read (normally the PNG from renderSceneCard/fitImage at the output size). */
  imagePath: string;
  /** Narration; cut or padded with silence to the scene duration. Default: silence. */
  audioPath?: string;
  /** Finite, > 0, at least one frame long. */
  durationSeconds: number;
}

/** Everything that determines the ffmpeg command of {@link composeVideo}. */
export interface ComposeArgsOptions {
  /** 1..{@link MAX_COMPOSE_SCENES} scenes, played in order. */
  scenes: readonly ComposeScene[];
  /** Even integers in 16..8192 (yuv420p halves chroma resolution, so odd sizes cannot be encoded). */
  width: number;
  height: number;
  /** Integer frames per second, 1..60. */
  fps: number;
  /** Where the MP4 is written (overwritten). */
  outPath: string;
}

/** Input of {@link composeVideo}. */
export interface ComposeOptions extends ComposeArgsOptions {
  /** Aborting kills ffmpeg and rejects with the signal's reason. */
  signal: AbortSignal;
}

/** Most scenes one composition takes. */
export const MAX_COMPOSE_SCENES = 50;

const AUDIO_RATE = 48_000;

// Encoder settings, chosen for slideshows of still images:
// - `-tune stillimage` lowers deblocking and psy tuning meant for motion, which keeps text edges crisp.
// - `-preset veryfast`: after the first frame of a scene every P-frame is "nothing changed" and costs
//   almost no bits or time, so slower presets buy little; veryfast keeps encode time near decode time.
// - `-crf 20` (a bit below the default 23): with P-frames nearly free, quality of the one I-frame per
//   scene is the picture, and small text shows artefacts first.
// - `-g` = 4 s of frames: a keyframe per 4 s bounds seek latency in players while the extra I-frames
//   (the only costly frames of a still image) stay rare. Scene starts are forced keyframes anyway
//   (`-force_key_frames`), so every cut is a clean seek point and never a smeared P-frame.
// - `-pix_fmt yuv420p` + AAC 48 kHz stereo + `+faststart` (moov first): plays in every browser and
//   phone, and starts streaming before the whole file is downloaded.
const VIDEO_CODEC_ARGS = ['-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'stillimage', '-crf', '20'];
const AUDIO_CODEC_ARGS = ['-c:a', 'aac', '-b:a', '128k', '-ar', String(AUDIO_RATE), '-ac', '2'];

function seconds(value: number): string {
  // ffmpeg parses plain decimals; microsecond precision is finer than any audio sample we produce.
  return value.toFixed(6);
}

function validate(options: ComposeArgsOptions): void {
  const { scenes, width, height, fps } = options;
  if (scenes.length < 1 || scenes.length > MAX_COMPOSE_SCENES) {
    throw new MediaInputError(`a video needs 1..${MAX_COMPOSE_SCENES} scenes, got ${scenes.length}`);
  }
  for (const [name, value] of [
    ['width', width],
    ['height', height],
  ] as const) {
    if (!Number.isInteger(value) || value < 16 || value > 8192 || value % 2 !== 0) {
      throw new MediaInputError(`${name} must be an even integer in 16..8192, got ${value}`);
    }
  }
  if (!Number.isInteger(fps) || fps < 1 || fps > 60) {
    throw new MediaInputError(`fps must be an integer in 1..60, got ${fps}`);
  }
  for (const [i, scene] of scenes.entries()) {
    if (!Number.isFinite(scene.durationSeconds) || scene.durationSeconds <= 0) {
      throw new MediaInputError(`scene ${i + 1} duration must be > 0 seconds, got ${scene.durationSeconds}`);
    }
  }
}

/**
 * Whole frames per scene. Scene boundaries are rounded on the running total, not per scene, so rounding
 * errors do not add up: the video lasts round(sum × fps) / fps, within half a frame of the sum.
 */
export function sceneFrameCounts(durations: readonly number[], fps: number): number[] {
  let elapsed = 0;
  let framesSoFar = 0;
  return durations.map((duration, i) => {
    elapsed += duration;
    const end = Math.round(elapsed * fps);
    const frames = end - framesSoFar;
    if (frames < 1) throw new MediaInputError(`scene ${i + 1} is shorter than one frame at ${fps} fps`);
    framesSoFar = end;
    return frames;
  });
}

/**
 * The complete ffmpeg argv (without the `ffmpeg` executable itself) that {@link composeVideo} runs, so a
 * benchmark can run the identical command. Pure: no file is touched. Throws {@link MediaInputError} on
 * invalid options.
 *
 * One invocation: input 2i is scene i's image (decoded once, repeated by the `loop` filter), input 2i+1 its WAV or
 * `anullsrc` silence; each is trimmed/padded to the scene's whole-frame duration, then concatenated.
 * The filter graph is passed inline: at 50 scenes it is ~16 KB, far below Linux's 128 KiB limit per
 * argument, so `-filter_complex_script` (and a temp file, deprecated in newer ffmpeg) is not needed.
 */
export function composeArgs(options: ComposeArgsOptions): string[] {
  validate(options);
  const { scenes, width, height, fps, outPath } = options;
  const frames = sceneFrameCounts(
    scenes.map((s) => s.durationSeconds),
    fps,
  );

  const inputs: string[] = [];
  const filters: string[] = [];
  const keyframeTimes: string[] = [];
  let framesSoFar = 0;
  for (const [i, scene] of scenes.entries()) {
    const sceneFrames = frames[i]!;
    const duration = sceneFrames / fps;
    keyframeTimes.push(seconds(framesSoFar / fps));
    framesSoFar += sceneFrames;

    // The image is read and decoded once; the `loop` filter below repeats the scaled frame in memory.
    // (`-loop 1` on the input would decode the PNG again for every frame: ~3.5× slower at 1080p.)
    inputs.push('-i', ffmpegFileUrl(scene.imagePath));
    if (scene.audioPath) {
      inputs.push('-i', ffmpegFileUrl(scene.audioPath));
    } else {
      inputs.push('-f', 'lavfi', '-t', seconds(duration), '-i', `anullsrc=r=${AUDIO_RATE}:cl=stereo`);
    }

    // Scale/pad is a no-op for images already at the output size, and keeps concat happy when not.
    filters.push(
      `[${2 * i}:v]scale=${width}:${height}:force_original_aspect_ratio=decrease,` +
        `pad=${width}:${height}:(ow-iw)/2:(oh-ih)/2:color=black,setsar=1,format=yuv420p,` +
        `loop=loop=${sceneFrames - 1}:size=1:start=0,setpts=N/${fps}/TB,trim=end_frame=${sceneFrames}[v${i}]`,
    );
    // Same sample format/rate/layout for every segment (concat requires it; TTS WAVs are often 22 kHz
    // mono), then exactly the scene duration: cut long narration, pad short narration with silence.
    filters.push(
      `[${2 * i + 1}:a]aformat=sample_fmts=fltp:sample_rates=${AUDIO_RATE}:channel_layouts=stereo,` +
        `atrim=duration=${seconds(duration)},asetpts=PTS-STARTPTS,apad=whole_dur=${seconds(duration)}[a${i}]`,
    );
  }
  const pairs = scenes.map((_, i) => `[v${i}][a${i}]`).join('');
  filters.push(`${pairs}concat=n=${scenes.length}:v=1:a=1[v][a]`);

  return [
    ...['-hide_banner', '-nostdin', '-nostats', '-loglevel', 'error', '-y'],
    ...inputs,
    ...['-filter_complex', filters.join(';'), '-map', '[v]', '-map', '[a]'],
    ...VIDEO_CODEC_ARGS,
    ...['-g', String(fps * 4), '-force_key_frames', keyframeTimes.join(',')],
    ...['-pix_fmt', 'yuv420p', '-r', String(fps)],
    ...AUDIO_CODEC_ARGS,
    ...['-movflags', '+faststart', '-f', 'mp4', ffmpegFileUrl(outPath)],
  ];
}

/**
 * Renders the scenes into one H.264/AAC MP4 at `outPath` with a single ffmpeg run (see
 * {@link composeArgs}) and resolves with the probed duration and file size. The duration is the sum of
 * scene durations rounded to whole frames (off by at most half a frame). Rejects with
 * {@link MediaInputError} on invalid options, ProcessFailedError if ffmpeg fails (e.g. an unreadable
 * image), and with the signal's reason on abort (ffmpeg is killed; a partial file may remain).
 */
export async function composeVideo(
  options: ComposeOptions,
): Promise<{ durationSeconds: number; bytes: number }> {
  const args = composeArgs(options);
  await runProcess('ffmpeg', args, { signal: options.signal });
  const { durationSeconds, bytes } = await probeMedia(options.outPath, options.signal);
  return { durationSeconds, bytes };
}
