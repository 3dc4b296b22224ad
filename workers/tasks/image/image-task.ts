import path from 'node:path';
import { type ImageRequest, imageRequestSchema } from '../../../shared/jobs/job-requests.ts';
import { tenantKey } from '../../../shared/storage/storage.ts';
import type { JobDefinition } from '../../jobs/job-runner.ts';
import { renderSceneCard } from '../../media/scene-card.ts';

/** image.run: one card (title + wrapped text on a background) at the requested size. */
export const imageJob: JobDefinition<ImageRequest> = {
  kind: 'image',
  request: imageRequestSchema,
  steps: [
    {
      name: 'image',
      weight: 1,
      async run(ctx) {
        const { title, text, width, height, background } = ctx.payload;
        const local = path.join(ctx.workDir, 'image.png');
        await renderSceneCard({ width, height, background, title, text, outPath: local });
        const key = tenantKey(ctx.job.tenant_id, 'outputs', `${ctx.job.id}.png`);
        const { bytes } = await ctx.services.storage.putFile(key, local);
        return {
          result: { key },
          usage: [
            { metric: 'images', quantity: 1 },
            { metric: 'storage_bytes', quantity: bytes },
          ],
          output: { key, contentType: 'image/png', bytes },
        };
      },
    },
  ],
};
