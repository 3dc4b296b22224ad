import os from 'node:os';
import path from 'node:path';
import { mapLimit } from '../../../shared/async/map-limit.ts';
import type { RenderRequest } from '../../../shared/jobs/job-requests.ts';
import { tenantKey } from '../../../shared/storage/storage.ts';
import { type DeadlineContext, readingStep, type StepContext } from '../../jobs/step.ts';
import { joinSegments } from '../../media/compose.ts';
import {
  planSegments,
  produceSegment,
  type SegmentInputs,
  sceneDurations,
  segmentInputs,
} from './segment-plan.ts';
import { recordedSegments, recordSegmentStep, segmentStepName } from './segment-steps.ts';

export { sceneDurations };

const PARALLEL = Math.max(2, os.availableParallelism());

function planned(ctx: DeadlineContext<RenderRequest, SegmentInputs>): number {
  return sceneDurations(ctx.payload, ctx.results.tts).reduce((a, b) => a + b, 0);
}

/** Job id of scene i's render.segment child: one per render and scene, so a second fan-out adds nothing. */
export function segmentJobId(jobId: string, index: number): string {
  return `${jobId}.${segmentStepName(index)}`;
}

/**
 * Encodes (or finds in the tenant's cache) each scene's segment, then joins them by copying into
 * one H.264/AAC MP4 stored as the job's output. Each segment is recorded as a step row with its
 * `cache_hit` (segment-plan.ts: what a segment's content address is made of).
 *
 * A render of RENDER_FANOUT_MIN_SCENES scenes or more fans out: the segments missing from the cache
 * become render.segment children on the `segments` queue, which any worker takes, and this job
 * waits in BullMQ's waiting-children without holding a worker slot. When the last child is done
 * the job runs again, finds the earlier steps done and every segment recorded (or encodes the one
 * a failed child left), and joins. Children carry no usage; the jobs row stays `running` the whole
 * time, so the plan's concurrent-render limit counts this job once.
 *
 * Billed: `render_seconds` = probed output seconds, whether segments came from the cache or not
 * (the cache saves our CPU and the client's time, not the price); `storage_bytes` = bytes of the
 * output held.
 */
export const composeStep = readingStep({
  name: 'compose',
  weight: 4,
  reads: segmentInputs,
  // One ffmpeg per scene (two at a time), one to join, one probe, storage copies in and out: on a
  // loaded machine process start-ups dominate short videos, so the deadline counts them.
  deadlineMs: (ctx: DeadlineContext<RenderRequest, SegmentInputs>) =>
    ctx.config.STEP_TIMEOUT_SECONDS * 1000 * (4 + Math.ceil(ctx.payload.scenes.length / 2)) +
    planned(ctx) * 2000,
  async run(ctx: StepContext<RenderRequest, SegmentInputs>) {
    const { storage, db } = ctx.services;
    const plan = await planSegments(ctx.payload, ctx.results);
    const { format, durations } = plan;
    const total = plan.scenes.length;
    const recorded = await recordedSegments(db, ctx.job.id);
    if (
      ctx.children &&
      total >= ctx.services.config.RENDER_FANOUT_MIN_SCENES &&
      !(await ctx.children.started())
    ) {
      const todo = plan.scenes.flatMap((_s, i) => (recorded.has(segmentStepName(i)) ? [] : [i]));
      await ctx.children.waitFor(
        'render.segment',
        todo.map((index) => ({
          data: { jobId: ctx.job.id, tenantId: ctx.job.tenant_id, index },
          jobId: segmentJobId(ctx.job.id, index),
        })),
      );
    }
    const done = await recordedSegments(db, ctx.job.id);
    let finished = done.size;
    const segments = await mapLimit(plan.scenes, PARALLEL, async (_scene, i) => {
      const name = segmentStepName(i);
      // Made by a child (or an earlier attempt): its row already says whether it was a cache hit.
      const known = done.get(name);
      if (known) return known;
      const startedAt = new Date();
      const made = await produceSegment(ctx.services, ctx.job.tenant_id, plan, i, ctx.workDir, ctx.signal);
      await recordSegmentStep(db, {
        jobId: ctx.job.id,
        parentStep: 'compose',
        name,
        cacheHit: made.hit,
        result: made.result,
        startedAt,
      });
      await ctx.progress((0.9 * ++finished) / total);
      return made.result;
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
});
