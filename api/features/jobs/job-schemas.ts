import { z } from 'zod/v4';
import { METRICS } from '../../../shared/jobs/estimate.ts';
import { JOB_KINDS, JOB_STATUSES } from '../../../shared/jobs/job-contract.ts';
import { isoTime, nullableTime } from '../../http/contract-schemas.ts';

/** A job as every job endpoint returns it (`serializeJob`). */
export const jobViewSchema = z.object({
  id: z.string(),
  kind: z.enum(JOB_KINDS),
  status: z.enum(JOB_STATUSES),
  progress: z.number().min(0).max(1),
  attempts: z.number().int(),
  steps: z.array(
    z.object({
      name: z.string(),
      status: z.string(),
      started_at: nullableTime,
      finished_at: nullableTime,
      attempt: z.number().int(),
      cache_hit: z.boolean(),
      voice_engine: z.string().nullable(),
    }),
  ),
  estimate: z.partialRecord(z.enum(METRICS), z.number()),
  usage: z.array(z.object({ metric: z.string(), quantity: z.number() })),
  output: z
    .object({
      url: z.string(),
      content_type: z.string(),
      bytes: z.number().int(),
      duration_seconds: z.number().nullable(),
      expires_at: nullableTime,
    })
    .nullable(),
  error: z.object({ code: z.string(), message: z.string() }).nullable(),
  /** What the job produced besides a file: a publish job's `{ destination, video_id, url }`; else null. */
  result: z.record(z.string(), z.unknown()).nullable(),
  created_at: isoTime,
  started_at: nullableTime,
  finished_at: nullableTime,
  /** Exactly what the client sent. */
  metadata: z.record(z.string(), z.unknown()),
});

export const jobExample = {
  id: 'job_Vo4YFD-95mOogGvz',
  kind: 'render',
  status: 'queued',
  progress: 0,
  attempts: 0,
  steps: [],
  estimate: { images: 3, tts_seconds: 13.8, render_seconds: 16.8 },
  usage: [],
  output: null,
  error: null,
  result: null,
  created_at: '2026-11-20T10:00:00.000Z',
  started_at: null,
  finished_at: null,
  metadata: { order: '42' },
};
