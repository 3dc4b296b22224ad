import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { mapLimit } from '../../../shared/async/map-limit.ts';
import type { RenderRequest } from '../../../shared/jobs/job-requests.ts';
import { cachedSpeech } from '../../cache/cached-speech.ts';
import type { StepDefinition } from '../../jobs/step.ts';

const PARALLEL = Math.max(2, os.availableParallelism());

export const narrationResult = z.object({
  /** Per scene: the narration's storage key, length and the engine that spoke it, or null for a silent scene */
  scenes: z.array(
    z.object({ audioKey: z.string(), durationSeconds: z.number(), engine: z.string().optional() }).nullable(),
  ),
});
export type NarrationResult = z.infer<typeof narrationResult>;

/**
 * Speaks each scene's text. Each scene is cached per tenant by (text, voice, engine and
 * version). Billed `tts_seconds` = seconds actually synthesised (cache hits are free). The step
 * records the engines that spoke (`http`, `espeak-ng` when the hosted provider fell back, or both).
 */
export const narrationStep: StepDefinition<RenderRequest, NarrationResult, 'tts'> = {
  name: 'tts',
  weight: 2,
  deadlineMs: ({ payload, config }) =>
    config.STEP_TIMEOUT_SECONDS *
    1000 *
    Math.max(1, Math.ceil(payload.scenes.filter((s) => s.text).length / 4)),
  async run(ctx) {
    const tts = ctx.services.tts;
    if (!tts) throw new Error('no TTS provider configured on this worker');
    let synthesised = 0;
    let hits = 0;
    let finished = 0;
    // Scenes are independent: synthesise a few at once (espeak-ng is single-threaded).
    const scenes: NarrationResult['scenes'] = await mapLimit(
      ctx.payload.scenes,
      PARALLEL,
      async (scene, i) => {
        if (!scene.text) return null;
        const entry = await cachedSpeech({
          storage: ctx.services.storage,
          tenantId: ctx.job.tenant_id,
          tts,
          text: scene.text,
          voice: ctx.payload.voice,
          localPath: path.join(ctx.workDir, `tts-${i}.wav`),
          signal: ctx.signal,
        });
        if (entry.hit) hits++;
        else synthesised += entry.durationSeconds;
        await ctx.progress(++finished / ctx.payload.scenes.length);
        return { audioKey: entry.dataKey, durationSeconds: entry.durationSeconds, engine: entry.engine };
      },
    );
    const spoken = scenes.filter(Boolean).length;
    const engines = [...new Set(scenes.flatMap((s) => (s?.engine ? [s.engine] : [])))].sort();
    return {
      result: { scenes },
      usage: [{ metric: 'tts_seconds', quantity: round2(synthesised) }],
      cacheHit: spoken > 0 && hits === spoken,
      voiceEngine: engines.length ? engines.join(',') : undefined,
    };
  },
};

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}
