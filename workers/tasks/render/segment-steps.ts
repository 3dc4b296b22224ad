import type { Knex } from 'knex';
import type { SegmentResult } from './segment-plan.ts';

/** The job_steps name of scene i's segment (1-based, zero-padded so names sort in scene order). */
export function segmentStepName(index: number): string {
  return `segment-${String(index + 1).padStart(2, '0')}`;
}

/**
 * Records one finished segment of a render as its own row in job_steps, next to the step that made
 * it (same position and attempt), so `GET /v1/jobs/:id` shows `cache_hit` per segment. Segments
 * carry no usage: the render is billed once, by the compose step, on the output's length.
 */
export async function recordSegmentStep(
  db: Knex,
  row: {
    jobId: string;
    parentStep: string;
    name: string;
    cacheHit: boolean;
    result: unknown;
    startedAt: Date;
  },
): Promise<void> {
  const parent = db('job_steps').where({ job_id: row.jobId, name: row.parentStep });
  await db('job_steps')
    .insert({
      job_id: row.jobId,
      name: row.name,
      position: parent.clone().select('position'),
      attempt: parent.clone().select('attempt'),
      status: 'succeeded',
      cache_hit: row.cacheHit,
      result: JSON.stringify(row.result),
      started_at: row.startedAt,
      finished_at: db.fn.now(),
    })
    .onConflict(['job_id', 'name'])
    .merge(['attempt', 'status', 'cache_hit', 'result', 'started_at', 'finished_at']);
}

/** The succeeded segment rows of a job, by step name, with their results. */
export async function recordedSegments(db: Knex, jobId: string): Promise<Map<string, SegmentResult>> {
  const rows: Array<{ name: string; result: SegmentResult }> = await db('job_steps')
    .select('name', 'result')
    .where({ job_id: jobId, status: 'succeeded' })
    .where('name', 'like', 'segment-%');
  return new Map(rows.map((r) => [r.name, r.result]));
}
