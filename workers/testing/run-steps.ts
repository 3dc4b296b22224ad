import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createJobRepository } from '../../shared/jobs/job-repository.ts';
import type { JobRow, StepDefinition, StepOutcome, StepServices } from '../jobs/step.ts';

export interface StepRun {
  /** Results by step name, as the runner hands them to later steps */
  results: Record<string, unknown>;
  outcomes: Record<string, StepOutcome>;
}

/**
 * Runs steps in order with a hand-built context, as the job runner would, minus its
 * bookkeeping: for tests of a task's steps against real Postgres, storage and mail. Steps whose
 * names are in `results` already are skipped (a resumed attempt); `stopAfter` ends the run early.
 */
export async function runSteps<P>(
  steps: readonly StepDefinition<P>[],
  o: {
    services: StepServices;
    job: JobRow;
    payload: P;
    results?: Record<string, unknown>;
    signal?: AbortSignal;
    stopAfter?: string;
    /** Sees each step's progress reports (a test can inject a crash from here) */
    onProgress?: (step: string, fraction: number) => void;
  },
): Promise<StepRun> {
  const results: Record<string, unknown> = { ...o.results };
  const outcomes: Record<string, StepOutcome> = {};
  const workDir = await mkdtemp(path.join(os.tmpdir(), `rendermill-steps-${o.job.id}-`));
  try {
    for (const step of steps) {
      if (step.name in results) continue;
      const outcome = await step.run({
        services: o.services,
        job: o.job,
        payload: o.payload,
        signal: o.signal ?? new AbortController().signal,
        results,
        workDir,
        progress: async (f) => o.onProgress?.(step.name, f),
      });
      results[step.name] = outcome.result ?? null;
      outcomes[step.name] = outcome;
      if (step.name === o.stopAfter) break;
    }
    return { results, outcomes };
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}

/** A job row as the worker loads it. */
export async function loadJob(db: StepServices['db'], id: string): Promise<JobRow> {
  const row = await createJobRepository().findById(db, id);
  if (!row) throw new Error(`no job ${id}`);
  return row;
}
