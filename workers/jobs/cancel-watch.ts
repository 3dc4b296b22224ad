import type { Knex } from 'knex';
import type { JobRepository } from '../../shared/jobs/job-repository.ts';
import { JobCanceledError } from './job-errors.ts';

// A cancel must stop a running job within 2 s: poll the row at a fraction of that.
export const CANCEL_POLL_MS = 400;

/**
 * Watches a job's row for a cancel request (or its end) and aborts `signal` with
 * JobCanceledError when one appears: every child process given the signal is killed. The render
 * job's runner and each of its segment children watch the same row, so one cancel stops them all.
 * Call `stop()` when the work is over.
 */
export function watchCancel(
  store: JobRepository,
  db: Knex,
  jobId: string,
): { signal: AbortSignal; stop(): void } {
  const cancel = new AbortController();
  const poll = setInterval(() => {
    store
      .cancelRequested(db, jobId)
      .then((yes) => yes && cancel.abort(new JobCanceledError()))
      .catch(() => undefined);
  }, CANCEL_POLL_MS);
  return { signal: cancel.signal, stop: () => clearInterval(poll) };
}
