import { TaskError } from '../../../shared/errors/task-error.ts';

/** Reasons of a 403 that mean "later", not "never" (YouTube Data API errors). */
const RETRYABLE_403 = new Set(['quotaExceeded', 'rateLimitExceeded', 'userRateLimitExceeded']);

/**
 * YouTube answered an upload request with an error. Retryable: 5xx, 429, and a 403 whose reason is
 * a quota or rate limit; anything else (400 bad metadata, 403 forbidden…) fails the job.
 */
export class YoutubeApiError extends TaskError {
  constructor(
    readonly status: number,
    /** `error.errors[0].reason` of the answer, or null. */
    readonly reason: string | null,
    message: string,
  ) {
    const retryable = status >= 500 || status === 429 || (status === 403 && RETRYABLE_403.has(reason ?? ''));
    super(message, retryable ? 'youtube_unavailable' : 'youtube_rejected', retryable);
  }

  static async from(res: Response, what: string): Promise<YoutubeApiError> {
    const body = (await res.json().catch(() => ({}))) as {
      error?: { message?: string; errors?: Array<{ reason?: string }> };
    };
    const reason = body.error?.errors?.[0]?.reason ?? null;
    const detail = body.error?.message ? `: ${body.error.message}` : '';
    return new YoutubeApiError(
      res.status,
      reason,
      `YouTube ${what} answered ${res.status}${reason ? ` ${reason}` : ''}${detail}`,
    );
  }
}
