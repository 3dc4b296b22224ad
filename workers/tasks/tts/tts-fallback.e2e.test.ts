import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTtsServer, type TtsServer, unreachableUrl } from '../../testing/tts-server.ts';
import { startTestWorker, type TestWorker } from '../../testing/worker-harness.ts';

let dir = '';
let server: TtsServer;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tts-fallback-e2e-'));
  server = await startTtsServer(dir);
});
afterAll(async () => {
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

const breaker = {
  // Generous for a loaded machine: only the hanging phase waits it out (twice at most).
  TTS_HTTP_TIMEOUT_SECONDS: '2',
  TTS_HTTP_ATTEMPTS: '2',
  TTS_BREAKER_RESET_SECONDS: '1',
};

async function stepEngines(t: TestWorker, jobId: string): Promise<Record<string, string | null>> {
  // The job's own steps; a render's per-scene segment-NN rows have no engine of their own.
  const steps = await t.env
    .db('job_steps')
    .where({ job_id: jobId })
    .whereNot('name', 'like', 'segment-%')
    .orderBy('position');
  return Object.fromEntries(
    steps.map((s: { name: string; voice_engine: string | null }) => [s.name, s.voice_engine]),
  );
}

async function metric(t: TestWorker, line: RegExp): Promise<number> {
  const text = await (await fetch(t.worker.metricsUrl)).text();
  const found = text.split('\n').find((l) => line.test(l));
  if (!found)
    throw new Error(
      `no metric line ${line} in:\n${text
        .split('\n')
        .filter((l) => l.includes('tts'))
        .join('\n')}`,
    );
  return Number(found.split(' ').at(-1));
}

describe('narration when the hosted TTS provider fails (TTS_FALLBACK=espeak)', () => {
  let t: TestWorker;
  beforeAll(async () => {
    t = await startTestWorker({ TTS_HTTP_URL: server.url, TTS_FALLBACK: 'espeak', ...breaker });
  });
  afterAll(async () => {
    await t.close();
  });

  it('when the provider answers, fails, hangs, then recovers, then every job succeeds and its steps name the engine that spoke', async () => {
    const tenant = await t.tenant();
    const render = (text: string) =>
      t.submit(tenant, 'render', { resolution: '720p', scenes: [{ text }, { text: `${text} Again.` }] });

    // Healthy provider: the hosted engine speaks.
    server.mode = 'ok';
    const healthy = await t.submit(tenant, 'tts', { text: 'All is well.', voice: 'en', format: 'wav' });
    expect((await t.waitFor(healthy, ['succeeded', 'failed'])).status).toBe('succeeded');
    expect(await stepEngines(t, healthy)).toEqual({ tts: 'http' });

    // Provider down (503): retried, then espeak-ng speaks; the breaker opens.
    server.mode = 'fail';
    const failing = await render('The provider answers five hundred and three.');
    const failed = await t.waitFor(failing, ['succeeded', 'failed']);
    expect(failed.error_message).toBeNull();
    expect(failed.status).toBe('succeeded');
    expect(await stepEngines(t, failing)).toEqual({ tts: 'espeak-ng', images: null, compose: null });
    // Open (2), or already half-open (1) if the render outlasted the reset time: not closed.
    expect(await metric(t, /^rendermill_tts_breaker_state\{.*provider="http"/)).toBeGreaterThanOrEqual(1);

    // Provider hanging: the open breaker keeps narration on espeak-ng, the job still succeeds.
    server.mode = 'hang';
    const hanging = await t.submit(tenant, 'tts', { text: 'Nobody answers.', voice: 'en', format: 'mp3' });
    expect((await t.waitFor(hanging, ['succeeded', 'failed'])).status).toBe('succeeded');
    expect(await stepEngines(t, hanging)).toEqual({ tts: 'espeak-ng' });
    expect(
      await metric(t, /^rendermill_tts_fallbacks_total\{.*reason="provider_failed"/),
    ).toBeGreaterThanOrEqual(1);

    // Provider back: the breaker half-opens by itself and the next narration is the provider's again.
    server.mode = 'ok';
    for (
      let i = 0;
      i < 100 && (await metric(t, /^rendermill_tts_breaker_state\{.*provider="http"/)) === 2;
      i++
    ) {
      await new Promise((r) => setTimeout(r, 100));
    }
    const recovered = await render('The provider is back.');
    expect((await t.waitFor(recovered, ['succeeded', 'failed'])).status).toBe('succeeded');
    expect(await stepEngines(t, recovered)).toEqual({ tts: 'http', images: null, compose: null });
    expect(await metric(t, /^rendermill_tts_breaker_state\{.*provider="http"/)).toBe(0);
  });
});

describe('narration when the hosted TTS provider is unreachable and TTS_FALLBACK=none', () => {
  let t: TestWorker;
  beforeAll(async () => {
    t = await startTestWorker({ TTS_HTTP_URL: await unreachableUrl(), TTS_FALLBACK: 'none', ...breaker });
  });
  afterAll(async () => {
    await t.close();
  });

  it('when a tts job runs, then it fails after its attempts with code tts_unavailable', async () => {
    const tenant = await t.tenant();
    const id = await t.submit(tenant, 'tts', { text: 'Is anyone there?', voice: 'en', format: 'wav' });
    const job = await t.waitFor(id, ['succeeded', 'failed']);
    expect(job.status).toBe('failed');
    expect(job.error_code).toBe('tts_unavailable');
    expect(job.error_message).toMatch(/TTS_FALLBACK is none/);
    expect(job.attempts).toBe(3);
  });
});
