import { AUDIO_CODEC_ARGS, AUDIO_RATE } from './aac-chunk.ts';
import { type ComposeArgsOptions, sceneFrameCounts, validateComposition } from './compose.ts';
import { ffmpegFileUrl } from './probe.ts';
import { VIDEO_CODEC_ARGS } from './still-gop.ts';

function seconds(value: number): string {
  // ffmpeg parses plain decimals; microsecond precision is finer than any audio sample we produce.
  return value.toFixed(6);
}

/**
 * The single-pass encode: one ffmpeg argv (without the executable) that loops, trims and encodes
 * every frame of every scene in one run. This was the renderer before scenes were encoded once per
 * GOP (compose.ts); it stays as the reference that quality tests and `npm run bench:render` compare
 * the output against. Pure: no file is touched. Throws {@link MediaInputError} on invalid options.
 *
 * One invocation: input 2i is scene i's image (decoded once, repeated by the `loop` filter), input 2i+1 its WAV or
 * `anullsrc` silence; each is trimmed/padded to the scene's whole-frame duration, then concatenated.
 * The filter graph is passed inline: at 50 scenes it is ~16 KB, far below Linux's 128 KiB limit per
 * argument, so `-filter_complex_script` (and a temp file, deprecated in newer ffmpeg) is not needed.
 */
// Same encoder settings as the GOP encoder (still-gop.ts), but with B-frames, a keyframe every 4 s and
// one at every scene start (`-force_key_frames`), as the renderer had them.
export function singlePassArgs(options: ComposeArgsOptions): string[] {
  validateComposition(options);
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
