import path from 'node:path';
import { safeFetch } from '../../../shared/net/safe-fetch.ts';
import { BadInputError } from '../../jobs/job-errors.ts';
import type { StepContext } from '../../jobs/step.ts';
import { fitImage, renderSceneCard } from '../../media/scene-card.ts';

const MAX_IMAGE_BYTES = 20 * 1024 * 1024;

/** Draws one frame-sized PNG for a scene: its fetched `image_url` fitted to the frame, or a title card. */
export async function drawScene(
  ctx: StepContext,
  scene: { title?: string; text?: string; image_url?: string; background: string },
  size: { width: number; height: number },
  outName: string,
): Promise<string> {
  const outPath = path.join(ctx.workDir, outName);
  if (scene.image_url) {
    const res = await safeFetch(scene.image_url, {
      timeoutMs: Math.min(30_000, ctx.services.config.STEP_TIMEOUT_SECONDS * 1000),
      maxBytes: MAX_IMAGE_BYTES,
      allowedContentTypes: ['image/'],
      allowPrivateHosts: ctx.services.config.FETCH_ALLOW_PRIVATE,
      signal: ctx.signal,
    });
    if (res.status >= 500 || res.status === 429) throw new Error(`image_url answered ${res.status}`); // transient: retry
    if (res.status >= 300) throw new BadInputError(`image_url answered ${res.status}`, 'image_unavailable');
    await fitImage({ input: res.body, ...size, background: scene.background, outPath });
    return outPath;
  }
  await renderSceneCard({
    ...size,
    background: scene.background,
    title: scene.title,
    text: scene.text,
    outPath,
  });
  return outPath;
}
