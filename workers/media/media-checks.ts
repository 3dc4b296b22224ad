import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ffmpegFileUrl } from './probe.ts';
import { runProcess } from './run-process.ts';

/** Measurements of encoded videos, for quality tests and `npm run bench:render`. */

/** Per-frame SSIM (all planes) of `video` against `reference`, frame by frame. */
export async function measureSsim(
  video: string,
  reference: string,
  signal?: AbortSignal,
): Promise<{ mean: number; min: number; frames: number }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'rendermill-ssim-'));
  try {
    const stats = path.join(dir, 'ssim.log');
    // The stats file path is a filter option: keep it free of ':' and quotes (a temp dir is).
    await runProcess(
      'ffmpeg',
      [
        ...['-hide_banner', '-nostdin', '-nostats', '-loglevel', 'error'],
        ...['-i', ffmpegFileUrl(video), '-i', ffmpegFileUrl(reference)],
        ...['-lavfi', `[0:v][1:v]ssim=stats_file=${stats}`, '-f', 'null', '-'],
      ],
      { signal },
    );
    const values = (await readFile(stats, 'utf8'))
      .split('\n')
      .map((line) => /All:([0-9.]+)/.exec(line)?.[1])
      .filter((v): v is string => v !== undefined)
      .map(Number);
    if (values.length === 0) throw new Error('ssim produced no frames');
    return {
      mean: values.reduce((a, b) => a + b, 0) / values.length,
      min: Math.min(...values),
      frames: values.length,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Presentation times (s) of the video's keyframes, from the container's packet flags. */
export async function keyframeTimes(video: string): Promise<number[]> {
  const { stdout } = await runProcess('ffprobe', [
    ...['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'packet=pts_time,flags'],
    ...['-of', 'csv=p=0', ffmpegFileUrl(video)],
  ]);
  return stdout
    .split('\n')
    .map((line) => line.split(','))
    .filter(([, flags]) => flags?.startsWith('K'))
    .map(([pts]) => Number(pts))
    .sort((a, b) => a - b);
}

/** The video stream's frame count and rates as the container states them. */
export async function videoStream(
  video: string,
): Promise<{ nbFrames: number; rFrameRate: string; avgFrameRate: string }> {
  const { stdout } = await runProcess('ffprobe', [
    ...[
      '-v',
      'error',
      '-select_streams',
      'v:0',
      '-show_entries',
      'stream=nb_frames,r_frame_rate,avg_frame_rate',
    ],
    ...['-of', 'json', ffmpegFileUrl(video)],
  ]);
  const s = (JSON.parse(stdout) as { streams: Array<Record<string, string>> }).streams[0] ?? {};
  return {
    nbFrames: Number(s.nb_frames),
    rFrameRate: s.r_frame_rate ?? '',
    avgFrameRate: s.avg_frame_rate ?? '',
  };
}

/** What `ffmpeg -v error -i video -f null -` prints: empty for a file that decodes cleanly. */
export async function decodeErrors(video: string): Promise<string> {
  const { stderr } = await runProcess('ffmpeg', [
    ...['-nostdin', '-v', 'error', '-i', ffmpegFileUrl(video), '-f', 'null', '-'],
  ]);
  return stderr;
}

/** Times (s) where sound starts after at least `minSilence` seconds of silence (ffmpeg silencedetect). */
export async function soundOnsets(file: string, minSilence = 0.05): Promise<number[]> {
  const { stderr } = await runProcess('ffmpeg', [
    ...['-hide_banner', '-nostdin', '-nostats', '-i', ffmpegFileUrl(file), '-vn'],
    ...['-af', `silencedetect=noise=-40dB:d=${minSilence}`, '-f', 'null', '-'],
  ]);
  return [...stderr.matchAll(/silence_end: ([0-9.]+)/g)].map((m) => Number(m[1]));
}
