import { MediaInputError } from '../media-input-error.ts';
import { probeMedia } from '../probe.ts';
import { ProcessFailedError } from '../process-failed-error.ts';
import { runProcess } from '../run-process.ts';
import { wavDurationSeconds } from '../wav.ts';
import type { TtsProvider, TtsRequest, TtsResult } from './tts-provider.ts';

/** Voice ids espeak-ng understands and that cannot be mistaken for an option or a path. */
const VOICE_PATTERN = /^[a-z]{2,3}(-[a-z0-9]+)*$/;

/** Options for {@link createEspeakProvider}. */
export interface EspeakProviderOptions {
  /** The espeak-ng executable. Default: `espeak-ng` from PATH. */
  binary?: string;
  /** Longest text accepted, in characters. Default: 20 000. */
  maxTextLength?: number;
}

/**
 * Creates a {@link TtsProvider} backed by the local espeak-ng. Async because it runs
 * `espeak-ng --version` once, which both fails fast when espeak-ng is missing and gives the provider
 * its `version` (cache keys depend on it).
 *
 * Voices must match `^[a-z]{2,3}(-[a-z0-9]+)*$` and be installed, otherwise `synthesize` rejects with
 * {@link MediaInputError}; so does empty or over-long text. Text goes to espeak-ng on stdin, so it may
 * contain anything, including a leading `-`.
 */
export async function createEspeakProvider(options: EspeakProviderOptions = {}): Promise<TtsProvider> {
  const binary = options.binary ?? 'espeak-ng';
  const maxTextLength = options.maxTextLength ?? 20_000;
  const { stdout } = await runProcess(binary, ['--version']);
  // "eSpeak NG text-to-speech: 1.51  Data at: ..." -> "1.51"
  const version = /text-to-speech:\s*(\S+)/.exec(stdout)?.[1] ?? stdout.trim().split('\n')[0] ?? 'unknown';

  async function synthesize(req: TtsRequest): Promise<TtsResult> {
    if (!VOICE_PATTERN.test(req.voice)) {
      throw new MediaInputError(`invalid espeak-ng voice ${JSON.stringify(req.voice.slice(0, 40))}`);
    }
    const text = req.text.trim();
    if (text.length === 0) throw new MediaInputError('text to speak is empty');
    if (text.length > maxTextLength) {
      throw new MediaInputError(`text to speak is longer than ${maxTextLength} characters`);
    }
    try {
      // --stdin reads the whole text at once (without it espeak-ng speaks stdin line by line);
      // -b 1 declares UTF-8. No -m: markup in the text is spoken, not interpreted.
      await runProcess(binary, ['-v', req.voice, '-b', '1', '-w', req.outPath, '--stdin'], {
        input: text,
        signal: req.signal,
      });
    } catch (error) {
      if (error instanceof ProcessFailedError && /voice does not exist/i.test(error.stderrTail)) {
        throw new MediaInputError(`unknown espeak-ng voice ${JSON.stringify(req.voice)}`, { cause: error });
      }
      throw error;
    }
    // The header is enough for espeak's PCM output; ffprobe only when it can't be trusted.
    const fromHeader = await wavDurationSeconds(req.outPath);
    const durationSeconds = fromHeader ?? (await probeMedia(req.outPath, req.signal)).durationSeconds;
    return { durationSeconds, engine: 'espeak-ng', engineVersion: version };
  }

  return { name: 'espeak-ng', version, synthesize };
}
