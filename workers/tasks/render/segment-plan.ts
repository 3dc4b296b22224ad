import path from 'node:path';
import { z } from 'zod';
import { type RenderRequest, renderSize } from '../../../shared/jobs/job-requests.ts';
import { cachedFiles, cacheKey } from '../../cache/media-cache.ts';
import type { StepServices } from '../../jobs/step.ts';
import { encodeSegment, segmentEncoderVersion, type VideoFormat } from '../../media/compose.ts';
import { gopFrames } from '../../media/still-gop.ts';
import { sceneImagesResult } from './images-step.ts';
import { type NarrationResult, narrationResult } from './tts-step.ts';

/** What a render's segments are made from: the results of its `tts` and `images` steps. */
export const segmentInputs = z.object({ tts: narrationResult, images: sceneImagesResult });
export type SegmentInputs = z.infer<typeof segmentInputs>;

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

/** Storage keys of one encoded scene (see encodeSegment). */
export const segmentResult = z.object({ gopKey: z.string(), audioKey: z.string() });
export type SegmentResult = z.infer<typeof segmentResult>;

/** What every scene's segment of a render is made of, derived from the finished tts and images steps. */
export interface SegmentPlan {
  format: VideoFormat;
  durations: number[];
  scenes: Array<{ cacheKey: string; imageKey: string; audioKey: string | null; durationSeconds: number }>;
}

/**
 * Plans the segments of a render. The render job (inline) and each render.segment child derive it
 * from the same step results, so both look up and store a scene under the same content address:
 * the scene's image and narration (their cache keys are content addresses), its duration, the
 * output size and fps, the GOP length and the encoder version.
 */
export async function planSegments(payload: RenderRequest, inputs: SegmentInputs): Promise<SegmentPlan> {
  const { tts: narration, images } = inputs;
  const durations = sceneDurations(payload, narration);
  const [width, height] = renderSize(payload);
  const format = { width, height, fps: payload.fps };
  const encoder = await segmentEncoderVersion();
  const scenes = payload.scenes.map((_s, i) => {
    const imageKey = images.images[i]!.imageKey;
    const audioKey = narration.scenes[i]?.audioKey ?? null;
    const key = cacheKey({
      kind: 'segment',
      image: imageKey,
      narration: audioKey,
      duration: durations[i]!,
      ...format,
      gop: gopFrames(format.fps),
      encoder,
    });
    return { cacheKey: key, imageKey, audioKey, durationSeconds: durations[i]! };
  });
  return { format, durations, scenes };
}

/** Encodes scene `i` of the plan into the tenant's cache, or finds it there (`hit`). */
export async function produceSegment(
  services: Pick<StepServices, 'storage'>,
  tenantId: string,
  plan: SegmentPlan,
  i: number,
  workDir: string,
  signal: AbortSignal,
): Promise<{ result: SegmentResult; hit: boolean }> {
  const { storage } = services;
  const scene = plan.scenes[i]!;
  const entry = await cachedFiles(storage, tenantId, scene.cacheKey, ['h264', 'aac'], async () => {
    const imagePath = path.join(workDir, `in-${i}.png`);
    await storage.download(scene.imageKey, imagePath);
    let audioPath: string | undefined;
    if (scene.audioKey) {
      audioPath = path.join(workDir, `in-${i}.wav`);
      await storage.download(scene.audioKey, audioPath);
    }
    const out = {
      gopPath: path.join(workDir, `seg-${i}.h264`),
      audioPath: path.join(workDir, `seg-${i}.aac`),
    };
    await encodeSegment(
      { imagePath, audioPath, durationSeconds: scene.durationSeconds },
      plan.format,
      out,
      signal,
    );
    return { localPaths: { h264: out.gopPath, aac: out.audioPath }, meta: {} };
  });
  return { result: { gopKey: entry.dataKeys.h264!, audioKey: entry.dataKeys.aac! }, hit: entry.hit };
}
