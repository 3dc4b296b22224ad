import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createMetrics } from '../../../shared/metrics/metrics.ts';
import { startTtsServer, type TtsServer, unreachableUrl } from '../../testing/tts-server.ts';
import { MediaInputError } from '../media-input-error.ts';
import { createEspeakProvider } from './espeak-provider.ts';
import { createHttpTtsProvider } from './http-provider.ts';
import { createResilientTtsProvider, type ResilientTtsOptions } from './resilient-provider.ts';
import type { TtsProvider } from './tts-provider.ts';
import { TtsUnavailableError } from './tts-unavailable-error.ts';

let dir = '';
let server: TtsServer;
let espeak: TtsProvider;
const made: Array<{ close?(): void }> = [];
let n = 0;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'resilient-tts-test-'));
  server = await startTtsServer(dir);
  espeak = await createEspeakProvider();
});
afterEach(() => {
  for (const p of made.splice(0)) p.close?.();
  server.mode = 'ok';
  server.retryAfterSeconds = undefined;
});
afterAll(async () => {
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

function resilient(over: Partial<ResilientTtsOptions> & { url?: string; timeoutMs?: number } = {}) {
  const metrics = createMetrics('worker');
  const tts = createResilientTtsProvider({
    primary: createHttpTtsProvider({ url: over.url ?? server.url, timeoutMs: over.timeoutMs ?? 3_000 }),
    fallback: espeak,
    backoffMs: 10,
    resetTimeoutMs: 60_000,
    volumeThreshold: 3,
    ...over,
    metrics,
  });
  made.push(tts);
  return { tts, metrics };
}

const speak = (tts: TtsProvider, signal = new AbortController().signal) =>
  tts.synthesize({
    text: 'The provider is having a bad day.',
    voice: 'en-US-Studio-1',
    outPath: join(dir, `out-${++n}.wav`),
    signal,
  });

async function metricValue(
  metrics: ReturnType<typeof createMetrics>,
  name: string,
  labels: Record<string, string>,
) {
  const metric = (await metrics.registry.getMetricsAsJSON()).find((m) => m.name === name);
  const value = metric?.values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l));
  return value?.value ?? 0;
}

async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('createResilientTtsProvider', () => {
  it('when the provider answers, then its audio is used and the result names the http engine', async () => {
    const { tts } = resilient();
    const result = await speak(tts);
    expect(result.engine).toBe('http');
    expect(result.durationSeconds).toBeCloseTo(1.5, 1);
    expect(tts.state()).toBe('closed');
  });

  it('when the provider fails once with 503, then the retry within the same synthesis gets the provider audio', async () => {
    const { tts, metrics } = resilient({ volumeThreshold: 10 });
    server.mode = 'fail';
    const before = server.requests;
    // Recover as soon as the first failure has been seen.
    const healer = setInterval(() => {
      if (server.requests > before) server.mode = 'ok';
    }, 1);
    try {
      const result = await speak(tts);
      expect(result.engine).toBe('http');
      expect(server.requests - before).toBeGreaterThanOrEqual(2);
      expect(await metricValue(metrics, 'rendermill_tts_fallbacks_total', {})).toBe(0);
    } finally {
      clearInterval(healer);
    }
  });

  it('when the provider keeps failing, then narration falls back to espeak-ng, the breaker opens and later narrations skip the provider', async () => {
    const { tts, metrics } = resilient({ attempts: 2, volumeThreshold: 4 });
    server.mode = 'fail';
    const first = await speak(tts);
    expect(first.engine).toBe('espeak-ng');
    expect(first.durationSeconds).toBeGreaterThan(0.5);
    await speak(tts); // 4 failed tries in the window: over the volume threshold, 100 % failures
    expect(tts.state()).toBe('open');
    expect(await metricValue(metrics, 'rendermill_tts_breaker_state', { provider: 'http' })).toBe(2);

    const seen = server.requests;
    const third = await speak(tts);
    expect(third.engine).toBe('espeak-ng');
    expect(server.requests).toBe(seen); // open: the provider is not called at all
    expect(await metricValue(metrics, 'rendermill_tts_fallbacks_total', { reason: 'provider_failed' })).toBe(
      2,
    );
    expect(await metricValue(metrics, 'rendermill_tts_fallbacks_total', { reason: 'breaker_open' })).toBe(1);
  });

  it('when the provider hangs, then each try ends at its timeout and narration falls back', async () => {
    const { tts } = resilient({ attempts: 2, timeoutMs: 300 });
    server.mode = 'hang';
    const result = await speak(tts);
    expect(result.engine).toBe('espeak-ng');
  });

  it('when the provider is unreachable, then narration falls back', async () => {
    const { tts } = resilient({ url: await unreachableUrl(), attempts: 2 });
    expect((await speak(tts)).engine).toBe('espeak-ng');
  });

  it('when the provider throttles with a Retry-After longer than allowed, then it falls back without waiting', async () => {
    const { tts } = resilient({ maxRetryAfterMs: 1_000 });
    server.mode = 'throttle';
    server.retryAfterSeconds = 3600;
    const before = server.requests;
    expect((await speak(tts)).engine).toBe('espeak-ng');
    expect(server.requests - before).toBe(1);
  });

  it('when the breaker is open and the reset time has passed, then it half-opens, one narration reaches the provider and it closes again', async () => {
    const { tts, metrics } = resilient({ attempts: 1, resetTimeoutMs: 200 });
    server.mode = 'fail';
    for (let i = 0; i < 3; i++) await speak(tts);
    expect(tts.state()).not.toBe('closed'); // open, or half-open already on a slow machine

    server.mode = 'ok';
    await until(() => tts.state() === 'half_open', 'the breaker to half-open');
    expect(await metricValue(metrics, 'rendermill_tts_breaker_state', { provider: 'http' })).toBe(1);
    const result = await speak(tts);
    expect(result.engine).toBe('http');
    expect(tts.state()).toBe('closed');
    expect(await metricValue(metrics, 'rendermill_tts_breaker_state', { provider: 'http' })).toBe(0);
  });

  it('when there is no fallback and the provider fails, then it rejects with tts_unavailable', async () => {
    const { tts } = resilient({ fallback: null, attempts: 2 });
    server.mode = 'fail';
    const error = await speak(tts).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TtsUnavailableError);
    expect((error as TtsUnavailableError).code).toBe('tts_unavailable');
  });

  it('when the provider refuses the input with 400, then it rejects as bad input, without fallback and without counting towards the breaker', async () => {
    const { tts } = resilient({
      url: `${server.url}?unused`,
      primary: {
        name: 'http',
        version: '1',
        synthesize: () => Promise.reject(new MediaInputError('unknown voice')),
      },
    });
    for (let i = 0; i < 5; i++) await expect(speak(tts)).rejects.toBeInstanceOf(MediaInputError);
    expect(tts.state()).toBe('closed');
  });

  it('when the caller aborts while the provider hangs, then it rejects with the caller reason and does not fall back', async () => {
    const { tts } = resilient({ primary: createHttpTtsProvider({ url: server.url, timeoutMs: 10_000 }) });
    server.mode = 'hang';
    const controller = new AbortController();
    const reason = new Error('job canceled');
    setTimeout(() => controller.abort(reason), 50);
    await expect(speak(tts, controller.signal)).rejects.toBe(reason);
    expect(tts.state()).toBe('closed');
  });
});
