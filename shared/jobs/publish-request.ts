import { z } from 'zod';

/** YouTube's limits: a title of at most 100 characters without `<` or `>`, a description of 5 000 bytes. */
export const PUBLISH_PRIVACY = ['private', 'unlisted', 'public'] as const;

/**
 * Payload of a `publish` job, stored in `jobs.payload` by `POST /v1/jobs/:id/publish` and parsed
 * by the worker. The video is the source job's output as it is when the job runs.
 */
export const publishRequestSchema = z.object({
  destination: z.literal('youtube'),
  /** The succeeded render whose output is uploaded. */
  source_job_id: z.string().min(1).max(64),
  title: z
    .string()
    .trim()
    .min(1)
    .max(100)
    .refine((t) => !/[<>]/.test(t), 'must not contain < or >'),
  description: z
    .string()
    .max(5000)
    .refine((d) => Buffer.byteLength(d) <= 5000, 'must be at most 5000 bytes')
    .refine((d) => !/[<>]/.test(d), 'must not contain < or >')
    .default(''),
  privacy: z.enum(PUBLISH_PRIVACY).default('private'),
  /** User or API key id that asked. */
  requested_by: z.string().max(64).nullable().default(null),
});
export type PublishRequest = z.infer<typeof publishRequestSchema>;
