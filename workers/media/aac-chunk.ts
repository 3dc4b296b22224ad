import { readFile } from 'node:fs/promises';
import { ffmpegFileUrl } from './probe.ts';

/** Output audio: AAC-LC, 48 kHz stereo, 128 kb/s. */
export const AUDIO_RATE = 48_000;
export const AUDIO_CODEC_ARGS = ['-c:a', 'aac', '-b:a', '128k', '-ar', String(AUDIO_RATE), '-ac', '2'];
/** Samples per AAC frame (one ADTS packet). */
export const AAC_FRAME = 1024;
/** Bump when audio encoding changes, so cached chunks stop matching. */
export const AUDIO_ENCODER_VERSION = 'aac-128k-48k-stereo-1';

// Silence after the scene's own length, so a chunk always has the packets its place in the video
// may ask for (a scene's sample count varies by up to one video frame with the frames before it).
const TAIL_SECONDS = 0.25;

/** One scene's audio. */
export interface AudioChunkSource {
  /** Narration; silence when absent. Never cut: a scene is at least as long as its narration. */
  audioPath?: string;
  /** The scene's length; the chunk holds that much audio plus {@link TAIL_SECONDS} of silence. */
  durationSeconds: number;
}

/** ffmpeg input options of a scene's audio: its narration, or silence of the chunk's length. */
export function audioChunkInputArgs(source: AudioChunkSource): string[] {
  return source.audioPath
    ? ['-i', ffmpegFileUrl(source.audioPath)]
    : ['-f', 'lavfi', '-t', chunkSeconds(source), '-i', `anullsrc=r=${AUDIO_RATE}:cl=stereo`];
}

function chunkSeconds(source: AudioChunkSource): string {
  return (source.durationSeconds + TAIL_SECONDS).toFixed(6);
}

/**
 * ffmpeg output options that encode the scene's audio at input `input` as ADTS AAC. The encoder's
 * first packet is its priming packet: it decodes to silence and, placed after the previous scene's
 * packets, overlaps only silence, so chunks encoded apart play back to back without a click (see
 * {@link joinAudio}).
 */
export function audioChunkOutputArgs(input: number, source: AudioChunkSource, outPath: string): string[] {
  const total = chunkSeconds(source);
  return [
    ...['-map', `${input}:a`, '-af'],
    `aformat=sample_fmts=fltp:sample_rates=${AUDIO_RATE}:channel_layouts=stereo,apad=whole_dur=${total}`,
    ...['-t', total, ...AUDIO_CODEC_ARGS, '-f', 'adts', ffmpegFileUrl(outPath)],
  ];
}

/** Splits an ADTS stream into its packets (each one AAC frame of 1024 samples). */
export function adtsPackets(stream: Buffer): Buffer[] {
  const packets: Buffer[] = [];
  let at = 0;
  while (at + 7 <= stream.length) {
    if (stream[at] !== 0xff || (stream[at + 1]! & 0xf6) !== 0xf0) throw new Error(`no ADTS sync at ${at}`);
    const length = ((stream[at + 3]! & 0x03) << 11) | (stream[at + 4]! << 3) | (stream[at + 5]! >> 5);
    if (length < 7 || at + length > stream.length) throw new Error(`truncated ADTS frame at ${at}`);
    packets.push(stream.subarray(at, at + length));
    at += length;
  }
  return packets;
}

/** Reads a chunk file into its packets. */
export async function readAudioChunk(path: string): Promise<Buffer[]> {
  return adtsPackets(await readFile(path));
}

/**
 * Lays per-scene chunks on one AAC frame grid. Scene i starts at sample `starts[i]`; its chunk's
 * first packet (the priming packet, decoding to silence) goes at grid frame round(starts[i] / 1024),
 * so, after the track's 1024-sample encoder delay (an edit list in the MP4), its audio starts within 512 samples (10.7 ms, under one frame at 60 fps) of the scene's first video
 * frame. Rounding is on absolute positions, so errors never add up. Each chunk gives as many
 * packets as its slot holds; the last scene's slot reaches `totalSamples`. A chunk too short for its
 * slot (impossible by construction) is padded with its own last packet, which is silence.
 */
export function joinAudio(
  chunks: readonly Buffer[][],
  starts: readonly number[],
  totalSamples: number,
): Buffer[] {
  const slot = (s: number) => Math.round(s / AAC_FRAME);
  const out: Buffer[] = [];
  for (const [i, packets] of chunks.entries()) {
    const from = slot(starts[i]!);
    const to = i + 1 < starts.length ? slot(starts[i + 1]!) : Math.ceil(totalSamples / AAC_FRAME) + 1;
    for (let k = 0; k < to - from; k++) {
      const packet = packets[Math.min(k, packets.length - 1)];
      if (!packet) throw new Error(`audio chunk ${i} is empty`);
      out.push(packet);
    }
  }
  return out;
}
