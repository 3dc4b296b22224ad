import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { runProcess } from './run-process.ts';

/** What {@link probeMedia} reports about a media file. */
export interface MediaInfo {
  /** Container duration; 0 when the container has none (still images). */
  durationSeconds: number;
  /** File size on disk. */
  bytes: number;
  /** The first video stream, if any. */
  video?: { codec: string; width: number; height: number; pixFmt: string; fps: number };
  /** The first audio stream, if any. */
  audio?: { codec: string; sampleRate: number; channels: number };
}

interface FfprobeStream {
  codec_type?: string;
  codec_name?: string;
  width?: number;
  height?: number;
  pix_fmt?: string;
  avg_frame_rate?: string;
  r_frame_rate?: string;
  sample_rate?: string;
  channels?: number;
  duration?: string;
}

interface FfprobeOutput {
  streams?: FfprobeStream[];
  format?: { duration?: string };
}

/**
 * ffmpeg tools read `proto:rest` as a protocol and `-x` as an option; `file:` plus an absolute path
 * makes any local path mean exactly that file.
 */
export function ffmpegFileUrl(path: string): string {
  return `file:${resolve(path)}`;
}

function parseRate(rate: string | undefined): number {
  if (!rate) return 0;
  const [num, den] = rate.split('/').map(Number);
  if (num === undefined || !Number.isFinite(num)) return 0;
  if (den === undefined) return num;
  return den > 0 && Number.isFinite(den) ? num / den : 0;
}

function parseNumber(value: string | undefined): number {
  const n = Number(value);
  return Number.isFinite(n) ? n : 0;
}

/**
 * Reads duration, size and the first video/audio stream of a local file with `ffprobe -print_format json`.
 * Rejects with ProcessFailedError when ffprobe cannot read the file, and with the abort reason on abort.
 */
export async function probeMedia(path: string, signal?: AbortSignal): Promise<MediaInfo> {
  const { stdout } = await runProcess(
    'ffprobe',
    ['-v', 'error', '-print_format', 'json', '-show_format', '-show_streams', ffmpegFileUrl(path)],
    { signal },
  );
  const parsed = JSON.parse(stdout) as FfprobeOutput;
  const streams = parsed.streams ?? [];
  const v = streams.find((s) => s.codec_type === 'video');
  const a = streams.find((s) => s.codec_type === 'audio');
  const { size } = await stat(path);

  // Some containers (raw WAV from odd encoders) only report duration per stream.
  let durationSeconds = parseNumber(parsed.format?.duration);
  if (durationSeconds === 0) {
    durationSeconds = Math.max(0, ...streams.map((s) => parseNumber(s.duration)));
  }

  const info: MediaInfo = { durationSeconds, bytes: size };
  if (v) {
    const avg = parseRate(v.avg_frame_rate);
    info.video = {
      codec: v.codec_name ?? 'unknown',
      width: v.width ?? 0,
      height: v.height ?? 0,
      pixFmt: v.pix_fmt ?? 'unknown',
      fps: avg > 0 ? avg : parseRate(v.r_frame_rate),
    };
  }
  if (a) {
    info.audio = {
      codec: a.codec_name ?? 'unknown',
      sampleRate: parseNumber(a.sample_rate),
      channels: a.channels ?? 0,
    };
  }
  return info;
}
