import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { retryAfterMs } from '../../../shared/net/retry-after.ts';
import { MediaInputError } from '../media-input-error.ts';
import { probeMedia } from '../probe.ts';
import { abortError } from '../run-process.ts';
import { TtsHttpError } from './tts-http-error.ts';
import type { TtsProvider, TtsRequest, TtsResult } from './tts-provider.ts';

/** Options for {@link createHttpTtsProvider}. */
export interface HttpTtsProviderOptions {
  /** Endpoint that takes `POST {text, voice, format: 'wav'}` and answers `audio/wav` bytes. */
  url: string;
  /** Sent as `Authorization: Bearer <apiKey>`. Default: no Authorization header. */
  apiKey?: string;
  /** Limit for one whole request, body included. Default: 60 000 ms. */
  timeoutMs?: number;
  /** Largest WAV accepted. Default: 100 MiB (about 18 min of 48 kHz 16-bit stereo). */
  maxBytes?: number;
  /** Provider name reported for cache keys. Default: `http`. */
  name?: string;
  /** Provider version reported for cache keys; bump it when the remote voice models change. Default: `1`. */
  version?: string;
}

const WAV_CONTENT_TYPES = ['audio/wav', 'audio/x-wav', 'audio/wave', 'audio/vnd.wave'];

/**
 * Creates a {@link TtsProvider} that delegates to a remote HTTP TTS service.
 *
 * The URL is operator configuration, not user input, so it is deliberately not SSRF-filtered (a TTS
 * service on the private network is the normal case). 400/422 answers reject with
 * {@link MediaInputError} (the service refused the text or voice); other non-2xx answers, a non-WAV
 * answer or a body over `maxBytes` reject with a {@link TtsHttpError} (status and Retry-After when the
 * service sent them), which the caller may retry. Network errors reject as fetch reports them. Aborting the
 * request's signal or exceeding `timeoutMs` rejects with that signal's reason (a `TimeoutError` for the
 * timeout). The WAV is written to `<outPath>.part` and renamed, so `outPath` never holds a partial file.
 */
export function createHttpTtsProvider(options: HttpTtsProviderOptions): TtsProvider {
  const { url, apiKey } = options;
  const timeoutMs = options.timeoutMs ?? 60_000;
  const maxBytes = options.maxBytes ?? 100 * 1024 * 1024;
  const name = options.name ?? 'http';
  const version = options.version ?? '1';

  async function synthesize(req: TtsRequest): Promise<TtsResult> {
    if (req.text.trim().length === 0) throw new MediaInputError('text to speak is empty');
    const signal = AbortSignal.any([req.signal, AbortSignal.timeout(timeoutMs)]);
    const partPath = `${req.outPath}.part`;
    try {
      const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'audio/wav' };
      if (apiKey) headers.authorization = `Bearer ${apiKey}`;
      const response = await fetch(url, {
        method: 'POST',
        headers,
        body: JSON.stringify({ text: req.text, voice: req.voice, format: 'wav' }),
        signal,
        redirect: 'error',
      });

      if (!response.ok) {
        const detail = (await response.text()).slice(0, 300);
        const message = `TTS service answered ${response.status}${detail ? `: ${detail}` : ''}`;
        if (response.status === 400 || response.status === 422) throw new MediaInputError(message);
        throw new TtsHttpError(message, response.status, retryAfterMs(response.headers.get('retry-after')));
      }
      const contentType = (response.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
      if (!WAV_CONTENT_TYPES.includes(contentType)) {
        await response.body?.cancel();
        throw new TtsHttpError(
          `TTS service answered content-type ${JSON.stringify(contentType)}, expected audio/wav`,
        );
      }
      if (!response.body) throw new TtsHttpError('TTS service answered without a body');

      let received = 0;
      let header = Buffer.alloc(0);
      const limit = new Transform({
        transform(chunk: Buffer, _encoding, callback) {
          received += chunk.length;
          if (received > maxBytes) {
            callback(new TtsHttpError(`TTS answer is larger than ${maxBytes} bytes`));
            return;
          }
          if (header.length < 12) header = Buffer.concat([header, chunk.subarray(0, 12 - header.length)]);
          callback(null, chunk);
        },
      });
      await pipeline(
        Readable.fromWeb(response.body as WebReadableStream<Uint8Array>),
        limit,
        createWriteStream(partPath),
        { signal },
      );
      // Content-type alone is a claim; an HTML error page mislabelled as audio/wav must not reach ffmpeg.
      if (
        header.subarray(0, 4).toString('latin1') !== 'RIFF' ||
        header.subarray(8, 12).toString('latin1') !== 'WAVE'
      ) {
        throw new TtsHttpError('TTS answer is not a RIFF/WAVE file');
      }
      await rename(partPath, req.outPath);
    } catch (error) {
      await rm(partPath, { force: true });
      // fetch and streams report aborts in their own words; callers need the reason they aborted with.
      if (signal.aborted) throw abortError(signal, 'TTS request');
      throw error;
    }
    const { durationSeconds } = await probeMedia(req.outPath, req.signal);
    return { durationSeconds, engine: name, engineVersion: version };
  }

  return { name, version, synthesize };
}
