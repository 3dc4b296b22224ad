import { z } from 'zod';

/**
 * Payloads of the account jobs, stored in `jobs.payload` by the API and parsed by the worker
 * (the same role `job-requests.ts` plays for renders). Ids only: the worker reads the rest
 * from Postgres when it runs.
 */
export const exportRequestSchema = z.object({
  /** User (or API key) id that asked for the export; null when unknown. */
  requested_by: z.string().max(64).nullable().default(null),
});
export type ExportRequest = z.infer<typeof exportRequestSchema>;

export const deletionRequestSchema = z.object({
  /** The owner who scheduled the deletion. */
  requested_by: z.string().max(64).nullable().default(null),
  /**
   * When the grace period ends (RFC 3339). The BullMQ job is delayed until then; whoever
   * re-enqueues it (the reconciler) must keep that delay, and the first deletion step refuses to
   * run earlier.
   */
  scheduled_for: z.string().datetime({ offset: true }),
});
export type DeletionRequest = z.infer<typeof deletionRequestSchema>;
