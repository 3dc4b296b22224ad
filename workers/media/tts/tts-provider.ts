/** One synthesis request. */
export interface TtsRequest {
  /** Plain text to speak (never markup, never a shell string). */
  text: string;
  /** Provider-specific voice id, e.g. `en-us` for espeak-ng. */
  voice: string;
  /** Where to write the WAV; overwritten if it exists. */
  outPath: string;
  /** Aborting stops synthesis and rejects with the signal's reason. */
  signal: AbortSignal;
}

/** What one synthesis produced, and which engine produced it. */
export interface TtsResult {
  /** Measured length of the WAV at `outPath`. */
  durationSeconds: number;
  /** The engine that spoke it (`espeak-ng`, `http`…): a fallback provider may answer with another engine than its own name. */
  engine: string;
  /** That engine's version (cache keys depend on it). */
  engineVersion: string;
}

/**
 * A text-to-speech engine. `name` and `version` identify the engine build so that cached audio can be
 * keyed by them: the same text and voice from a different version may sound different.
 */
export interface TtsProvider {
  readonly name: string;
  readonly version: string;
  /** Writes a WAV file at `req.outPath` and resolves with its measured duration and the engine used. */
  synthesize(req: TtsRequest): Promise<TtsResult>;
  /** Releases timers (a circuit breaker's); absent when there is nothing to release. */
  close?(): void;
}
