import type { Knex } from 'knex';
import { createJobRepository, type SubStep } from '../../../shared/jobs/job-repository.ts';
import { type SegmentResult, segmentResult } from './segment-plan.ts';

const SEGMENT_PREFIX = 'segment-';
// The statements are the job repository's (the one owner of job_steps).
const jobs = createJobRepository();

/** The job_steps name of scene i's segment (1-based, zero-padded so names sort in scene order). */
export function segmentStepName(index: number): string {
  return `${SEGMENT_PREFIX}${String(index + 1).padStart(2, '0')}`;
}

/**
 * Records one finished segment of a render as its own row in job_steps, next to the step that made
 * it (same position and attempt), so `GET /v1/jobs/:id` shows `cache_hit` per segment. Segments
 * carry no usage: the render is billed once, by the compose step, on the output's length.
 */
export async function recordSegmentStep(db: Knex, row: SubStep): Promise<void> {
  await jobs.recordSubStep(db, row);
}

/**
 * The succeeded segment rows of a job, by step name, with their results. A row whose result does
 * not parse (written by older code) counts as not made: the render makes that segment again, from
 * the cache when it is there, and records it anew.
 */
export async function recordedSegments(db: Knex, jobId: string): Promise<Map<string, SegmentResult>> {
  const made = new Map<string, SegmentResult>();
  for (const [name, result] of await jobs.succeededStepResults(db, jobId, SEGMENT_PREFIX)) {
    const parsed = segmentResult.safeParse(result);
    if (parsed.success) made.set(name, parsed.data);
  }
  return made;
}
