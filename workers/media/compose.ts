import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { finished } from 'node:stream/promises';
import { mapLimit } from '../../shared/async/map-limit.ts';
import {
  AAC_FRAME,
  AUDIO_ENCODER_VERSION,
  AUDIO_RATE,
  audioChunkInputArgs,
  audioChunkOutputArgs,
  joinAudio,
  readAudioChunk,
} from './aac-chunk.ts';
import { MediaInputError } from './media-input-error.ts';
import { ffmpegFileUrl, probeMedia } from './probe.ts';
import { runProcess } from './run-process.ts';
import { gopFrames, readGop, sceneFromGop, stillGopOutputArgs, VIDEO_ENCODER_VERSION } from './still-gop.ts';

/** One still image shown for `durationSeconds`, with its narration (or silence). */
export interface ComposeScene {
  /** Image ffmpeg can read (normally the PNG from renderSceneCard/fitImage at the output size). */
  imagePath: string;
  /** Narration; cut or padded with silence to the scene duration. Default: silence. */
  audioPath?: string;
  /** Finite, > 0, at least one frame long. */
  durationSeconds: number;
}

/** Scenes and output format of a video. */
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

/** Most scenes one composition takes. */
export const MAX_COMPOSE_SCENES = 50;

/** Throws {@link MediaInputError} unless the options describe a video ffmpeg can encode. */
export function validateComposition(options: ComposeArgsOptions): void {
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

/** Output format of a video. */
export interface VideoFormat {
  width: number;
  height: number;
  fps: number;
}

/** The two encoded halves of a scene: its still's GOP and its audio. */
export interface SegmentFiles {
  /** Raw H.264 of one closed GOP of the still ({@link gopFrames} frames). */
  gopPath: string;
  /** ADTS AAC of the scene's narration or silence, starting with the encoder's priming packet. */
  audioPath: string;
}

/**
 * Encodes one scene once, in one ffmpeg run with two outputs: a GOP of its still at the output
 * format, and its audio. Neither depends on where the scene sits in the video, so a segment can be
 * cached and reused by any render that has the same scene (image, narration, duration) at the same
 * format.
 */
export async function encodeSegment(
  scene: ComposeScene,
  format: VideoFormat,
  out: SegmentFiles,
  signal?: AbortSignal,
): Promise<void> {
  await runProcess(
    'ffmpeg',
    [
      ...['-hide_banner', '-nostdin', '-nostats', '-loglevel', 'error', '-y'],
      ...['-i', ffmpegFileUrl(scene.imagePath), ...audioChunkInputArgs(scene)],
      ...stillGopOutputArgs(0, { ...format, frames: gopFrames(format.fps), outPath: out.gopPath }),
      ...audioChunkOutputArgs(1, scene, out.audioPath),
    ],
    { signal },
  );
}

/** Input of {@link joinSegments}. */
export interface JoinOptions extends VideoFormat {
  /** One per scene, in order. */
  segments: readonly SegmentFiles[];
  /** Each scene's length in seconds (as given to {@link encodeSegment}). */
  durations: readonly number[];
  /** Where the MP4 is written (overwritten). */
  outPath: string;
  signal?: AbortSignal;
}

/**
 * Joins encoded segments into the MP4 by copying, without encoding anything: each scene's video is
 * its GOP repeated plus the first frames of it for the remainder ({@link sceneFromGop}), exactly
 * {@link sceneFrameCounts} frames, so every scene starts on a keyframe at the frame the single-pass
 * renderer put it; the audio chunks are laid on one AAC frame grid ({@link joinAudio}). One ffmpeg
 * then muxes both with `-c copy` and `+faststart`, at a constant frame rate (`-r` on the raw
 * H.264 input stamps frame n at n / fps).
 */
export async function joinSegments(
  options: JoinOptions,
): Promise<{ durationSeconds: number; bytes: number }> {
  const { segments, durations, fps, outPath, signal } = options;
  const frames = sceneFrameCounts(durations, fps);
  const videoPath = `${outPath}.h264`;
  const audioPath = `${outPath}.aac`;
  try {
    const starts: number[] = [];
    const chunks: Buffer[][] = [];
    const video = createWriteStream(videoPath);
    let framesSoFar = 0;
    for (const [i, segment] of segments.entries()) {
      for (const chunk of sceneFromGop(await readGop(segment.gopPath), frames[i]!)) {
        if (!video.write(chunk)) await once(video, 'drain');
      }
      chunks.push(await readAudioChunk(segment.audioPath));
      starts.push((framesSoFar * AUDIO_RATE) / fps);
      framesSoFar += frames[i]!;
    }
    video.end();
    await finished(video);
    const audio = createWriteStream(audioPath);
    audio.end(Buffer.concat(joinAudio(chunks, starts, (framesSoFar * AUDIO_RATE) / fps)));
    await finished(audio);
    signal?.throwIfAborted();
    await runProcess(
      'ffmpeg',
      [
        ...['-hide_banner', '-nostdin', '-nostats', '-loglevel', 'error', '-y'],
        ...['-r', String(fps), '-f', 'h264', '-i', ffmpegFileUrl(videoPath)],
        // The AAC encoder delay of the first chunk: starting the track 1024 samples early makes the
        // muxer write the edit list that hides it, as it does for an encode.
        ...['-itsoffset', (-AAC_FRAME / AUDIO_RATE).toFixed(6), '-f', 'aac', '-i', ffmpegFileUrl(audioPath)],
        ...['-map', '0:v', '-map', '1:a', '-c', 'copy', '-movflags', '+faststart', '-f', 'mp4'],
        ffmpegFileUrl(outPath),
      ],
      { signal },
    );
  } finally {
    await Promise.all([rm(videoPath, { force: true }), rm(audioPath, { force: true })]);
  }
  const { durationSeconds, bytes } = await probeMedia(outPath, signal);
  return { durationSeconds, bytes };
}

/** Input of {@link composeVideo}. */
export interface ComposeOptions extends ComposeArgsOptions {
  /** Aborting kills every ffmpeg and rejects with the signal's reason. */
  signal: AbortSignal;
  /** Scenes encoded at once. Default: 2. */
  concurrency?: number;
}

/**
 * Renders the scenes into one H.264/AAC MP4 at `outPath`: every scene encoded once
 * ({@link encodeSegment}), then joined by copying ({@link joinSegments}). Resolves with the probed
 * duration (the sum of scene durations rounded to whole frames) and file size. Rejects with
 * {@link MediaInputError} on invalid options, ProcessFailedError if ffmpeg fails (e.g. an unreadable
 * image), and with the signal's reason on abort (ffmpeg is killed; partial files may remain).
 */
export async function composeVideo(
  options: ComposeOptions,
): Promise<{ durationSeconds: number; bytes: number }> {
  validateComposition(options);
  const { scenes, width, height, fps, outPath, signal } = options;
  const segments = scenes.map((_, i) => ({
    gopPath: `${outPath}.${i}.h264`,
    audioPath: `${outPath}.${i}.aac`,
  }));
  try {
    await mapLimit(scenes, options.concurrency ?? 2, (scene, i) =>
      encodeSegment(scene, { width, height, fps }, segments[i]!, signal),
    );
    return await joinSegments({
      segments,
      durations: scenes.map((s) => s.durationSeconds),
      width,
      height,
      fps,
      outPath,
      signal,
    });
  } finally {
    await Promise.all(
      segments.flatMap((s) => [rm(s.gopPath, { force: true }), rm(s.audioPath, { force: true })]),
    );
  }
}

let versionPromise: Promise<string> | undefined;

/**
 * Everything about the encoders that determines a segment's bytes: our settings' versions and the
 * ffmpeg build (its libx264 and AAC encoder). Read once per process.
 */
export function segmentEncoderVersion(): Promise<string> {
  versionPromise ??= runProcess('ffmpeg', ['-hide_banner', '-version']).then(
    ({ stdout }) =>
      `${VIDEO_ENCODER_VERSION}/${AUDIO_ENCODER_VERSION}/${stdout.split('\n')[0]?.trim() ?? ''}`,
  );
  versionPromise.catch(() => {
    versionPromise = undefined;
  });
  return versionPromise;
}
