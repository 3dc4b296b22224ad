import type { Estimate } from '../../../shared/jobs/estimate.ts';
import type { JobKind, JobRow, JobStatus } from '../../../shared/jobs/job-contract.ts';
import type { JobStepView } from '../../../shared/jobs/job-repository.ts';
import type { JobUsage } from '../../../shared/metering/usage-ledger.ts';

/** A job as every job endpoint returns it (README: Jobs API; its schema is in the OpenAPI document). */
export interface JobView {
  id: string;
  kind: JobKind;
  status: JobStatus;
  progress: number;
  attempts: number;
  steps: Array<{
    name: string;
    status: string;
    started_at: string | null;
    finished_at: string | null;
    attempt: number;
    cache_hit: boolean;
    /** Steps that speak: the engine(s) that did (`http`, or `espeak-ng` when the hosted provider fell back) */
    voice_engine: string | null;
  }>;
  estimate: Estimate;
  usage: Array<{ metric: string; quantity: number }>;
  output: {
    url: string;
    content_type: string;
    bytes: number;
    duration_seconds: number | null;
    expires_at: string | null;
  } | null;
  error: { code: string; message: string } | null;
  /** What the job produced besides a file: a publish job's `{ destination, video_id, url }`; else null. */
  result: Record<string, unknown> | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  metadata: Record<string, unknown>;
}

const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);

/** Whether the job has a file to download now: written, not swept, not past its retention. */
export function hasLiveOutput(
  job: JobRow,
  now = new Date(),
): job is JobRow & { output_key: string; output_content_type: string } {
  return (
    job.output_key !== null &&
    job.output_content_type !== null &&
    job.output_deleted_at === null &&
    (job.output_expires_at === null || job.output_expires_at.getTime() > now.getTime())
  );
}

/**
 * Row → API shape. `steps` and `usage` may hold other jobs' rows (batch loads); only this job's are
 * used. `output.url` is the stable API address; it redirects to a short-lived signed link.
 */
export function serializeJob(
  job: JobRow,
  related: { steps: JobStepView[]; usage: JobUsage[]; publicUrl: string; now?: Date },
): JobView {
  return {
    id: job.id,
    kind: job.kind,
    status: job.status,
    progress: job.progress,
    attempts: job.attempts,
    steps: related.steps
      .filter((s) => s.job_id === job.id)
      .map((s) => ({
        name: s.name,
        status: s.status,
        started_at: iso(s.started_at),
        finished_at: iso(s.finished_at),
        attempt: s.attempt,
        cache_hit: s.cache_hit,
        voice_engine: s.voice_engine,
      })),
    estimate: job.estimate,
    usage: related.usage
      .filter((u) => u.job_id === job.id)
      .map((u) => ({ metric: u.metric, quantity: u.quantity })),
    output: hasLiveOutput(job, related.now)
      ? {
          url: `${related.publicUrl}/v1/jobs/${job.id}/output`,
          content_type: job.output_content_type,
          bytes: job.output_bytes ?? 0,
          duration_seconds: job.output_duration_seconds,
          expires_at: iso(job.output_expires_at),
        }
      : null,
    error: job.error_code ? { code: job.error_code, message: job.error_message ?? job.error_code } : null,
    result: job.result ?? null,
    created_at: job.created_at.toISOString(),
    started_at: iso(job.started_at),
    finished_at: iso(job.finished_at),
    metadata: job.metadata,
  };
}
