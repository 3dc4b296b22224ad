import os from 'node:os';
import path from 'node:path';
import { type RenderRequest, renderSize } from '../../../shared/jobs/job-requests.ts';
import { tenantKey } from '../../../shared/storage/storage.ts';
import { cachedFiles, cacheKey } from '../../cache/media-cache.ts';
import { mapLimit } from '../../jobs/map-limit.ts';
import type { StepContext, StepDefinition } from '../../jobs/step.ts';
import { encodeSegment, joinSegments, segmentEncoderVersion } from '../../media/compose.ts';
import { gopFrames } from '../../media/still-gop.ts';
import type { SceneImagesResult } from './images-step.ts';
import { recordSegmentStep, segmentStepName } from './segment-steps.ts';
import type { NarrationResult } from './tts-step.ts';

const PARALLEL = Math.max(2, os.availableParallelism());

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

/** Storage keys of one encoded scene (see encodeSegment). */
export interface SegmentResult {
  gopKey: string;
  audioKey: string;
}

/**
 * Encodes (or finds in the tenant's cache) each scene's segment, then joins them by copying into
 * one H.264/AAC MP4 stored as the job's output. A segment is content-addressed by everything that
 * determines its bytes: the scene's image and narration (their cache keys are content addresses),
 * its duration, the output size and fps, and the encoder version. Each segment is recorded as a
 * step row with its `cache_hit`. Billed: `render_seconds` = probed output seconds, whether segments
 * came from the cache or not (the cache saves our CPU and the client's time, not the price);
 * `storage_bytes` = bytes of the output held.
 */
export const composeStep: StepDefinition<RenderRequest> = {
  name: 'compose',
  weight: 4,
  // One ffmpeg per scene (two at a time), one to join, one probe, storage copies in and out: on a
  // loaded machine process start-ups dominate short videos, so the deadline counts them.
  deadlineMs: (ctx) =>
    ctx.config.STEP_TIMEOUT_SECONDS * 1000 * (4 + Math.ceil(ctx.payload.scenes.length / 2)) +
    planned(ctx) * 2000,
  async run(ctx: StepContext<RenderRequest>) {
    const narration = ctx.results.tts as NarrationResult;
    const images = ctx.results.images as SceneImagesResult;
    const { storage } = ctx.services;
    const durations = sceneDurations(ctx.payload, narration);
    const [width, height] = renderSize(ctx.payload);
    const format = { width, height, fps: ctx.payload.fps };
    const encoder = await segmentEncoderVersion();
    let finished = 0;
    const segments = await mapLimit(ctx.payload.scenes, PARALLEL, async (_scene, i) => {
      const startedAt = new Date();
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
      const entry = await cachedFiles(
        ctx.services.storage,
        ctx.job.tenant_id,
        key,
        ['h264', 'aac'],
        async () => {
          const imagePath = path.join(ctx.workDir, `in-${i}.png`);
          await storage.download(imageKey, imagePath);
          let audioPath: string | undefined;
          if (audioKey) {
            audioPath = path.join(ctx.workDir, `in-${i}.wav`);
            await storage.download(audioKey, audioPath);
          }
          const out = {
            gopPath: path.join(ctx.workDir, `seg-${i}.h264`),
            audioPath: path.join(ctx.workDir, `seg-${i}.aac`),
          };
          await encodeSegment(
            { imagePath, audioPath, durationSeconds: durations[i]! },
            format,
            out,
            ctx.signal,
          );
          return { localPaths: { h264: out.gopPath, aac: out.audioPath }, meta: {} };
        },
      );
      const result: SegmentResult = { gopKey: entry.dataKeys.h264!, audioKey: entry.dataKeys.aac! };
      await recordSegmentStep(ctx.services.db, {
        jobId: ctx.job.id,
        parentStep: 'compose',
        name: segmentStepName(i),
        cacheHit: entry.hit,
        result,
        startedAt,
      });
      await ctx.progress((0.9 * ++finished) / ctx.payload.scenes.length);
      return result;
    });

    const files = await Promise.all(
      segments.map(async (s, i) => {
        const gopPath = path.join(ctx.workDir, `join-${i}.h264`);
        const audioPath = path.join(ctx.workDir, `join-${i}.aac`);
        await Promise.all([storage.download(s.gopKey, gopPath), storage.download(s.audioKey, audioPath)]);
        return { gopPath, audioPath };
      }),
    );
    const outPath = path.join(ctx.workDir, 'output.mp4');
    const video = await joinSegments({ segments: files, durations, ...format, outPath, signal: ctx.signal });
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
