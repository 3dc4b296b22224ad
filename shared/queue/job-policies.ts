import { JOB_NAMES } from './queues.ts';

export interface RetryPolicy {
  /** Total tries including the first. */
  attempts: number;
  /** Exponential backoff base: waits delay, 2×delay, 4×delay… between tries. */
  backoffMs: number;
}

/**
 * Retry policy per job name. It lives in the shared contract because BullMQ reads attempts and
 * backoff from the job's options, which the producer (the API, or the reconciler) sets when
 * adding it; the worker catalog (`workers/registry.ts`) lists the same policies beside each handler.
 */
export const JOB_POLICIES: Record<string, RetryPolicy> = {
  [JOB_NAMES.render]: { attempts: 3, backoffMs: 2_000 },
  // A failed segment is encoded by its parent when it resumes, so few tries are enough here.
  [JOB_NAMES.renderSegment]: { attempts: 2, backoffMs: 1_000 },
  [JOB_NAMES.tts]: { attempts: 3, backoffMs: 1_000 },
  [JOB_NAMES.image]: { attempts: 3, backoffMs: 1_000 },
  [JOB_NAMES.export]: { attempts: 5, backoffMs: 5_000 },
  [JOB_NAMES.deletion]: { attempts: 10, backoffMs: 10_000 },
  // Each attempt resumes the same upload session; retries inside the step cover short outages,
  // these cover a worker crash or a longer YouTube outage (~20 minutes in all).
  [JOB_NAMES.publishYoutube]: { attempts: 6, backoffMs: 20_000 },
  // A client endpoint may be down for a while: 8 tries over ~40 minutes.
  [JOB_NAMES.callback]: { attempts: 8, backoffMs: 10_000 },
  // A helpdesk outage should not lose a ticket: 8 tries over ~20 minutes (Retry-After can stretch it).
  [JOB_NAMES.supportDeliver]: { attempts: 8, backoffMs: 5_000 },
  [JOB_NAMES.reconcile]: { attempts: 1, backoffMs: 1_000 },
  [JOB_NAMES.sweepOutputs]: { attempts: 1, backoffMs: 1_000 },
  [JOB_NAMES.usageReport]: { attempts: 1, backoffMs: 1_000 },
  [JOB_NAMES.usageAlert]: { attempts: 1, backoffMs: 1_000 },
  [JOB_NAMES.reservationsSweep]: { attempts: 1, backoffMs: 1_000 },
};

export function policyFor(name: string): RetryPolicy {
  const p = JOB_POLICIES[name];
  if (!p) throw new Error(`no retry policy for job ${name}`);
  return p;
}
