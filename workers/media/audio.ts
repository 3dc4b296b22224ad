import { MediaInputError } from './media-input-error.ts';
import { ffmpegFileUrl } from './probe.ts';
import { runProcess } from './run-process.ts';

let encodersPromise: Promise<Set<string>> | undefined;

/** Encoder names in the output of `ffmpeg -hide_banner -encoders`. */
export function parseEncoderList(stdout: string): Set<string> {
  const names = new Set<string>();
  // Lines look like " A....D libmp3lame           libmp3lame MP3 (MPEG audio layer 3) (codec mp3)".
  for (const line of stdout.split('\n')) {
    const match = /^\s*[VAS][A-Z.]{5}\s+(\S+)/.exec(line);
    if (match?.[1]) names.add(match[1]);
  }
  return names;
}

/** The encoder names this ffmpeg build offers, read once per process (the build does not change). */
function ffmpegEncoders(): Promise<Set<string>> {
  encodersPromise ??= runProcess('ffmpeg', ['-hide_banner', '-encoders']).then(({ stdout }) =>
    parseEncoderList(stdout),
  );
  // A failed probe (e.g. ffmpeg missing at that moment) must not be cached forever.
  encodersPromise.catch(() => {
    encodersPromise = undefined;
  });
  return encodersPromise;
}

/**
 * The MP3 encoder to use: libmp3lame when this ffmpeg has it, else libshine (fixed-point, lower quality,
 * but present in some minimal builds). ffmpeg has no native MP3 encoder, so with neither this rejects.
 */
export async function mp3Encoder(): Promise<'libmp3lame' | 'libshine'> {
  const encoders = await ffmpegEncoders();
  if (encoders.has('libmp3lame')) return 'libmp3lame';
  if (encoders.has('libshine')) return 'libshine';
  throw new Error('this ffmpeg build has no MP3 encoder (neither libmp3lame nor libshine)');
}

/**
 * Encodes a WAV (or anything ffmpeg reads) to MP3 at `outPath`, overwriting it: 128 kb/s CBR (the one
 * mode both encoders support), metadata stripped. Rejects with ProcessFailedError if ffmpeg fails and
 * with the abort reason on abort.
 */
export async function wavToMp3(inPath: string, outPath: string, signal: AbortSignal): Promise<void> {
  const encoder = await mp3Encoder();
  await runProcess(
    'ffmpeg',
    [
      ...['-hide_banner', '-nostdin', '-loglevel', 'error', '-y'],
      ...['-i', ffmpegFileUrl(inPath)],
      ...['-vn', '-map_metadata', '-1', '-c:a', encoder, '-b:a', '128k', '-f', 'mp3', ffmpegFileUrl(outPath)],
    ],
    { signal },
  );
}

/**
 * Writes `seconds` of silence as a 48 kHz mono 16-bit WAV at `outPath`, overwriting it.
 * `seconds` must be a finite number > 0, else {@link MediaInputError}.
 */
export async function makeSilence(outPath: string, seconds: number, signal: AbortSignal): Promise<void> {
  if (!Number.isFinite(seconds) || seconds <= 0) {
    throw new MediaInputError(`silence duration must be > 0 seconds, got ${seconds}`);
  }
  await runProcess(
    'ffmpeg',
    [
      ...['-hide_banner', '-nostdin', '-loglevel', 'error', '-y'],
      ...['-f', 'lavfi', '-i', 'anullsrc=r=48000:cl=mono'],
      ...['-t', seconds.toFixed(6), '-c:a', 'pcm_s16le', '-f', 'wav', ffmpegFileUrl(outPath)],
    ],
    { signal },
  );
}
