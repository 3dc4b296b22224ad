import path from 'node:path';
import { RESOLUTIONS, type RenderRequest } from '../../../shared/jobs/job-requests.ts';
import { tenantKey } from '../../../shared/storage/storage.ts';
import type { StepContext, StepDefinition } from '../../jobs/step.ts';
import { composeVideo } from '../../media/compose.ts';
import type { SceneImagesResult } from './images-step.ts';
import type { NarrationResult } from './tts-step.ts';

/**
 * A scene lasts as long as its narration, or its `duration` when it has no text (README: Jobs API).
 * With both, the longer wins, so an explicit duration is never cut short.
 */
export function sceneDurations(req: RenderRequest, narration: NarrationResult): number[] {
  return req.scenes.map((s, i) => {
    const spoken = narration.scenes[i]?.durationSeconds ?? 0;
    return s.text ? Math.max(spoken, s.duration ?? 0) : (s.duration ?? 0);
  });
}

function planned(ctx: { payload: RenderRequest; results: Record<string, unknown> }): number {
  const narration = ctx.results.tts as NarrationResult | undefined;
  return narration ? sceneDurations(ctx.payload, narration).reduce((a, b) => a + b, 0) : 60;
}

/**
 * Encodes the scenes and narration into one H.264/AAC MP4 and stores it as the job's output.
 * Its deadline scales with the video's length. Billed: `render_seconds` = probed output
 * seconds, `storage_bytes` = bytes of the output held.
 */
export const composeStep: StepDefinition<RenderRequest> = {
  name: 'compose',
  weight: 4,
  deadlineMs: (ctx) => ctx.config.STEP_TIMEOUT_SECONDS * 1000 + planned(ctx) * 2000,
  async run(ctx: StepContext<RenderRequest>) {
    const narration = ctx.results.tts as NarrationResult;
    const images = ctx.results.images as SceneImagesResult;
    const { storage } = ctx.services;
    const durations = sceneDurations(ctx.payload, narration);
    const scenes = await Promise.all(
      ctx.payload.scenes.map(async (_s, i) => {
        const imagePath = path.join(ctx.workDir, `in-${i}.png`);
        await storage.download(images.images[i]!.imageKey, imagePath);
        const audio = narration.scenes[i];
        let audioPath: string | undefined;
        if (audio) {
          audioPath = path.join(ctx.workDir, `in-${i}.wav`);
          await storage.download(audio.audioKey, audioPath);
        }
        return { imagePath, audioPath, durationSeconds: durations[i]! };
      }),
    );
    const [width, height] = RESOLUTIONS[ctx.payload.resolution];
    const outPath = path.join(ctx.workDir, 'output.mp4');
    const total = durations.reduce((a, b) => a + b, 0);
    // ffmpeg reports progress only through -progress parsing; a coarse heartbeat is enough for clients.
    const started = Date.now();
    const heartbeat = setInterval(() => {
      const f = Math.min(0.95, (Date.now() - started) / 1000 / Math.max(1, total / 3));
      void ctx.progress(f).catch(() => undefined);
    }, 1000);
    let video: { durationSeconds: number; bytes: number };
    try {
      video = await composeVideo({
        scenes,
        width,
        height,
        fps: ctx.payload.fps,
        outPath,
        signal: ctx.signal,
      });
    } finally {
      clearInterval(heartbeat);
    }
    const key = tenantKey(ctx.job.tenant_id, 'outputs', `${ctx.job.id}.mp4`);
    const { bytes } = await storage.putFile(key, outPath);
    return {
      result: { key, bytes, durationSeconds: video.durationSeconds },
      usage: [
        { metric: 'render_seconds', quantity: Math.round(video.durationSeconds * 100) / 100 },
        { metric: 'storage_bytes', quantity: bytes },
      ],
      output: { key, contentType: 'video/mp4', bytes, durationSeconds: video.durationSeconds },
    };
  },
};
