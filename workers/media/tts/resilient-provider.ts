import { setTimeout as sleep } from 'node:timers/promises';
import CircuitBreaker from 'opossum';
import { backoffDelay } from '../../../shared/async/backoff.ts';
import type { Logger } from '../../../shared/logging/logger.ts';
import type { Metrics } from '../../../shared/metrics/metrics.ts';
import { MediaInputError } from '../media-input-error.ts';
import { abortError } from '../run-process.ts';
import { TtsHttpError } from './tts-http-error.ts';
import type { TtsProvider, TtsRequest, TtsResult } from './tts-provider.ts';
import { TtsUnavailableError } from './tts-unavailable-error.ts';

/** Options for {@link createResilientTtsProvider}. */
export interface ResilientTtsOptions {
  /** The hosted provider (its own per-request timeout bounds each try). */
  primary: TtsProvider;
  /** Speaks when the primary cannot (espeak-ng); null: fail with `tts_unavailable` instead. */
  fallback: TtsProvider | null;
  /** Tries of the primary per synthesis, the first included. Default: 3. */
  attempts?: number;
  /** First pause between tries; doubles each time (±20 % jitter). A `Retry-After` up to `maxRetryAfterMs` wins. Default: 250 ms. */
  backoffMs?: number;
  /** Longest `Retry-After` honoured; a longer one falls back at once. Default: 5 000 ms. */
  maxRetryAfterMs?: number;
  /** How long the breaker stays open before it lets one try through (half-open). Default: 30 000 ms. */
  resetTimeoutMs?: number;
  /** Failures, as a share of tries in the rolling window, that open the breaker. Default: 50. */
  errorThresholdPercentage?: number;
  /** Tries in the rolling window before the breaker may open at all. Default: 4. */
  volumeThreshold?: number;
  /** Length of the rolling window. Default: 30 000 ms. */
  rollingWindowMs?: number;
  metrics?: Pick<Metrics, 'ttsFallbacks' | 'ttsBreakerState'>;
  logger?: Logger;
}

/** Breaker states as exported by `rendermill_tts_breaker_state`. */
export const BREAKER_STATE = { closed: 0, half_open: 1, open: 2 } as const;

/**
 * Wraps a hosted TTS provider so that its outages degrade narration instead of failing jobs.
 *
 * Each synthesis tries the primary up to `attempts` times with backoff, inside the caller's signal
 * (the step deadline): timeouts, network errors, 5xx and 429 count as provider failures; a 400/422
 * ({@link MediaInputError}) and the caller's own abort do not, and are rethrown as they are.
 * Every try goes through one opossum circuit breaker, shared by all jobs of the worker process: once
 * enough tries fail it opens and later syntheses skip the primary altogether; after
 * `resetTimeoutMs` it half-opens, lets one try through and closes again when that succeeds (syntheses
 * arriving meanwhile wait for that verdict rather than falling back at once).
 *
 * When the primary cannot speak (breaker open, or every try failed) the fallback speaks, and the
 * result names the fallback's engine, so callers can cache and record it as such. Without a fallback
 * the synthesis rejects with {@link TtsUnavailableError} (`tts_unavailable`).
 */
export function createResilientTtsProvider(options: ResilientTtsOptions): TtsProvider & {
  /** `closed`, `half_open` or `open` (for tests and logs). */
  state(): keyof typeof BREAKER_STATE;
} {
  const { primary, fallback, metrics, logger } = options;
  const attempts = options.attempts ?? 3;
  const backoffMs = options.backoffMs ?? 250;
  const maxRetryAfterMs = options.maxRetryAfterMs ?? 5_000;

  // Errors of tries the caller aborted (cancel, step deadline): the provider is not to blame.
  const callerAborted = new WeakSet<object>();
  const tryPrimary = async (req: TtsRequest): Promise<TtsResult> => {
    try {
      return await primary.synthesize(req);
    } catch (err) {
      if (req.signal.aborted && typeof err === 'object' && err !== null) callerAborted.add(err);
      throw err;
    }
  };
  const breaker = new CircuitBreaker(tryPrimary, {
    name: `tts-${primary.name}`,
    // The provider's own AbortSignal timeout bounds a try; opossum's timer would only leave it running.
    timeout: false,
    resetTimeout: options.resetTimeoutMs ?? 30_000,
    errorThresholdPercentage: options.errorThresholdPercentage ?? 50,
    volumeThreshold: options.volumeThreshold ?? 4,
    rollingCountTimeout: options.rollingWindowMs ?? 30_000,
    rollingCountBuckets: 10,
    // true = "not the provider's fault": does not count towards opening.
    errorFilter: (err: unknown) =>
      err instanceof MediaInputError || (typeof err === 'object' && err !== null && callerAborted.has(err)),
  });
  const state = (): keyof typeof BREAKER_STATE =>
    breaker.opened ? 'open' : breaker.halfOpen ? 'half_open' : 'closed';
  const report = () => metrics?.ttsBreakerState.set({ provider: primary.name }, BREAKER_STATE[state()]);
  const changed = () => {
    report();
    logger?.warn({ provider: primary.name, breaker: state() }, 'tts circuit breaker changed state');
  };
  breaker.on('open', changed);
  breaker.on('halfOpen', changed);
  breaker.on('close', changed);
  report();

  /** Resolves once the half-open breaker's trial request has closed or re-opened it (or the caller gives up). */
  const trialSettled = (signal: AbortSignal) =>
    new Promise<void>((resolve) => {
      const done = () => {
        breaker.off('close', done);
        breaker.off('open', done);
        signal.removeEventListener('abort', done);
        resolve();
      };
      breaker.once('close', done);
      breaker.once('open', done);
      signal.addEventListener('abort', done, { once: true });
    });

  async function speakWithPrimary(req: TtsRequest): Promise<TtsResult | { failed: string }> {
    let waitedForTrial = false;
    for (let attempt = 1; ; attempt++) {
      try {
        return await breaker.fire(req);
      } catch (err) {
        if (err instanceof MediaInputError) throw err;
        if (req.signal.aborted) throw abortError(req.signal, 'TTS request');
        if (CircuitBreaker.isOurError(err as Error)) {
          // Half-open lets one request through; the others of the same video wait for its verdict
          // instead of mixing voices (once: if it re-opened, they fall back).
          if (breaker.halfOpen && !waitedForTrial) {
            waitedForTrial = true;
            attempt--;
            await trialSettled(req.signal);
            if (req.signal.aborted) throw abortError(req.signal, 'TTS request');
            continue;
          }
          return { failed: 'breaker_open' };
        }
        const retryAfter = err instanceof TtsHttpError ? err.retryAfterMs : undefined;
        if (attempt >= attempts || (retryAfter ?? 0) > maxRetryAfterMs) return { failed: 'provider_failed' };
        const pause = retryAfter ?? backoffDelay({ baseMs: backoffMs, attempt });
        logger?.info({ provider: primary.name, attempt, err: (err as Error).message }, 'tts try failed');
        await sleep(pause, undefined, { signal: req.signal }).catch(() => {
          throw abortError(req.signal, 'TTS request');
        });
      }
    }
  }

  async function synthesize(req: TtsRequest): Promise<TtsResult> {
    const spoken = await speakWithPrimary(req);
    if (!('failed' in spoken)) return spoken;
    if (!fallback) {
      throw new TtsUnavailableError(
        spoken.failed === 'breaker_open'
          ? `TTS provider ${primary.name} is unavailable (circuit open) and TTS_FALLBACK is none`
          : `TTS provider ${primary.name} failed ${attempts} times and TTS_FALLBACK is none`,
      );
    }
    metrics?.ttsFallbacks.inc({ provider: primary.name, reason: spoken.failed });
    return speakWithFallback(fallback, req);
  }

  return {
    name: primary.name,
    version: primary.version,
    synthesize,
    state,
    close() {
      breaker.shutdown();
      primary.close?.();
      fallback?.close?.();
    },
  };
}

/**
 * The hosted provider's voice ids (`en-US-Neural-1`) mean nothing to espeak-ng: try the voice as
 * given (lower-cased), then its language (`en`), then English, so a fallback always speaks.
 */
async function speakWithFallback(fallback: TtsProvider, req: TtsRequest): Promise<TtsResult> {
  const language = req.voice.split(/[-_]/)[0]?.toLowerCase() ?? '';
  const voices = [...new Set([req.voice.toLowerCase(), language, 'en'].filter(Boolean))];
  let lastError: unknown;
  for (const voice of voices) {
    try {
      return await fallback.synthesize({ ...req, voice });
    } catch (err) {
      if (!(err instanceof MediaInputError) || !/voice/.test(err.message)) throw err;
      lastError = err;
    }
  }
  throw lastError;
}
