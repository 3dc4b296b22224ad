import os from 'node:os';
import { z } from 'zod';
import { mapLimit } from '../../../shared/async/map-limit.ts';
import { type RenderRequest, renderSize } from '../../../shared/jobs/job-requests.ts';
import { cached, cacheKey, RENDERER_VERSION } from '../../cache/media-cache.ts';
import type { StepDefinition } from '../../jobs/step.ts';

const PARALLEL = Math.max(2, os.availableParallelism());

import { drawScene } from './scene-source.ts';

export const sceneImagesResult = z.object({ images: z.array(z.object({ imageKey: z.string() })) });
export type SceneImagesResult = z.infer<typeof sceneImagesResult>;

/** Draws every scene at the output resolution; cached per tenant. Billed `images` = images drawn (hits free). */
export const sceneImagesStep: StepDefinition<RenderRequest, SceneImagesResult, 'images'> = {
  name: 'images',
  weight: 1,
  deadlineMs: ({ payload, config }) =>
    config.STEP_TIMEOUT_SECONDS * 1000 * Math.max(1, Math.ceil(payload.scenes.length / 10)),
  async run(ctx) {
    const [width, height] = renderSize(ctx.payload);
    let drawn = 0;
    let finished = 0;
    const images: SceneImagesResult['images'] = await mapLimit(
      ctx.payload.scenes,
      PARALLEL,
      async (scene, i) => {
        const key = cacheKey({
          kind: scene.image_url ? 'image_url' : 'card',
          title: scene.title ?? null,
          text: scene.image_url ? null : (scene.text ?? null),
          image_url: scene.image_url ?? null,
          background: scene.background,
          width,
          height,
          renderer: RENDERER_VERSION,
        });
        const entry = await cached(ctx.services.storage, ctx.job.tenant_id, key, 'png', async () => ({
          localPath: await drawScene(ctx, scene, { width, height }, `scene-${i}.png`),
          meta: { width, height },
        }));
        if (!entry.hit) drawn++;
        await ctx.progress(++finished / ctx.payload.scenes.length);
        return { imageKey: entry.dataKey };
      },
    );
    return {
      result: { images },
      usage: [{ metric: 'images', quantity: drawn }],
      cacheHit: drawn === 0,
    };
  },
};
