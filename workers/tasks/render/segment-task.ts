import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { UnrecoverableError } from 'bullmq';
import { isOpen, type JobRow } from '../../../shared/jobs/job-contract.ts';
import type { JobRepository } from '../../../shared/jobs/job-repository.ts';
import { renderRequestSchema } from '../../../shared/jobs/job-requests.ts';
import type { SegmentPayload } from '../../../shared/queue/queues.ts';
import { watchCancel } from '../../jobs/cancel-watch.ts';
import { finalizeJob } from '../../jobs/finalize-job.ts';
import { classifyError, StepTimeoutError } from '../../jobs/job-errors.ts';
import { createJobEvents } from '../../jobs/job-events.ts';
import { stepSpan } from '../../jobs/job-runner.ts';
import type { WorkerServices } from '../../jobs/services.ts';
import { renderJob } from './render-task.ts';
import { planSegments, produceSegment, segmentInputs } from './segment-plan.ts';
import { recordedSegments, recordSegmentStep, segmentStepName } from './segment-steps.ts';

/** What a render.segment child returns to its parent (BullMQ keeps it in the parent's processed set). */
export type SegmentOutcome = { segment: string; cacheHit: boolean } | { skipped: 'closed' | 'canceled' };

/**
 * render.segment: encodes one scene of a fanned-out render (compose-step.ts) into the tenant's
 * segment cache and records its segment row, as the render job itself would have. It holds the
 * render's guarantees for its own unit of work:
 * - cancel: it watches the job's cancel flag like the runner, so ffmpeg is killed within the poll
 *   interval, and ends the job as canceled itself (the parent waits in BullMQ and cannot see the
 *   flag; finalizeJob moves an open job only once, so whoever sees the cancel first ends it). It
 *   then completes rather than fails, so the parent resumes, finds the job closed and returns;
 * - a SIGKILLed worker's child loses its lock and BullMQ's stall check gives it to another worker
 *   (worker-settings.ts); its half-made files were never in the cache (meta is written last);
 * - progress: the compose step's share of the bar, by segments recorded / scenes;
 * - no usage: the render is billed once, by its compose step, on the output's length.
 */
export async function runSegment(
  services: WorkerServices,
  store: JobRepository,
  data: SegmentPayload,
): Promise<SegmentOutcome> {
  const { db } = services;
  const job = await store.find(db, data.tenantId, data.jobId);
  if (!job || !isOpen(job.status)) return { skipped: 'closed' };
  if (job.cancel_requested_at) return canceled(services, store, job);
  const parsed = renderRequestSchema.safeParse(job.payload);
  if (!parsed.success) throw new UnrecoverableError('render request does not parse');
  const inputs = segmentInputs.safeParse(
    Object.fromEntries(
      (await store.steps(db, job.id)).filter((s) => s.status === 'succeeded').map((s) => [s.name, s.result]),
    ),
  );
  if (!inputs.success) throw new UnrecoverableError("the render's narration and images do not parse");
  const plan = await planSegments(parsed.data, inputs.data);
  if (!plan.scenes[data.index]) throw new UnrecoverableError(`render has no scene ${data.index}`);
  const name = segmentStepName(data.index);

  const cancel = watchCancel(store, db, job.id);
  // As the compose step's per-scene share: two process start-ups on a loaded machine, plus the length.
  const deadlineMs = Math.round(
    services.config.STEP_TIMEOUT_SECONDS * 1000 * 2 + plan.durations[data.index]! * 2000,
  );
  const timeout = AbortSignal.timeout(deadlineMs);
  const signal = AbortSignal.any([cancel.signal, timeout]);
  const workDir = await mkdtemp(path.join(os.tmpdir(), `rendermill-${job.id}-${name}-`));
  const startedAt = new Date();
  try {
    const made = await produceSegment(services, job.tenant_id, plan, data.index, workDir, signal);
    await recordSegmentStep(db, {
      jobId: job.id,
      parentStep: 'compose',
      name,
      cacheHit: made.hit,
      result: made.result,
      startedAt,
    });
    const { base, span } = stepSpan(renderJob, 'compose');
    const value = base + span * ((0.9 * (await recordedSegments(db, job.id)).size) / plan.scenes.length);
    await store.progress(db, job.id, value);
    await createJobEvents(services, job).progress(value, 'compose');
    return { segment: name, cacheHit: made.hit };
  } catch (err) {
    if (cancel.signal.aborted) return canceled(services, store, job);
    const c = classifyError(timeout.aborted ? new StepTimeoutError(name, deadlineMs) : err);
    if (!c.retryable) throw new UnrecoverableError(c.message);
    throw err;
  } finally {
    cancel.stop();
    await rm(workDir, { recursive: true, force: true });
  }
}

async function canceled(
  services: WorkerServices,
  store: JobRepository,
  job: JobRow,
): Promise<SegmentOutcome> {
  await finalizeJob(services, store, job, 'canceled');
  return { skipped: 'canceled' };
}
