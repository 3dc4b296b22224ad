import path from 'node:path';
import type { RenderRequest } from '../../../shared/jobs/job-requests.ts';
import { cached, cacheKey } from '../../cache/media-cache.ts';
import type { StepDefinition } from '../../jobs/step.ts';

export interface NarrationResult {
  /** Per scene: the narration's storage key and length, or null for a silent scene */
  scenes: Array<{ audioKey: string; durationSeconds: number } | null>;
}

/**
 * Speaks each scene's text. Each scene is cached per tenant by (text, voice, engine and
 * version). Billed `tts_seconds` = seconds actually synthesised (cache hits are free).
 */
export const narrationStep: StepDefinition<RenderRequest> = {
  name: 'tts',
  weight: 2,
  deadlineMs: ({ payload, config }) =>
    config.STEP_TIMEOUT_SECONDS *
    1000 *
    Math.max(1, Math.ceil(payload.scenes.filter((s) => s.text).length / 4)),
  async run(ctx) {
    const tts = ctx.services.tts;
    if (!tts) throw new Error('no TTS provider configured on this worker');
    const scenes: NarrationResult['scenes'] = [];
    let synthesised = 0;
    let hits = 0;
    for (const [i, scene] of ctx.payload.scenes.entries()) {
      if (!scene.text) {
        scenes.push(null);
        continue;
      }
      const text = scene.text;
      const key = cacheKey({
        kind: 'tts',
        text,
        voice: ctx.payload.voice,
        engine: tts.name,
        version: tts.version,
      });
      const entry = await cached(ctx.services.storage, ctx.job.tenant_id, key, 'wav', async () => {
        const localPath = path.join(ctx.workDir, `tts-${i}.wav`);
        const { durationSeconds } = await tts.synthesize({
          text,
          voice: ctx.payload.voice,
          outPath: localPath,
          signal: ctx.signal,
        });
        return { localPath, meta: { durationSeconds } };
      });
      if (entry.hit) hits++;
      else synthesised += entry.meta.durationSeconds;
      scenes.push({ audioKey: entry.dataKey, durationSeconds: entry.meta.durationSeconds });
      await ctx.progress((i + 1) / ctx.payload.scenes.length);
    }
    const spoken = scenes.filter(Boolean).length;
    return {
      result: { scenes } satisfies NarrationResult,
      usage: [{ metric: 'tts_seconds', quantity: round2(synthesised) }],
      cacheHit: spoken > 0 && hits === spoken,
    };
  },
};

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}
