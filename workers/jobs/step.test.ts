import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { loadConfig } from '../../shared/config/config.ts';
import type { JobRow } from '../../shared/jobs/job-contract.ts';
import { TaskError } from './job-errors.ts';
import { type DeadlineContext, readingStep, type StepDefinition, steps } from './step.ts';

const config = loadConfig({});

const now = new Date();
const job: JobRow = {
  id: 'job-1',
  tenant_id: 'tenant-1',
  kind: 'render',
  status: 'running',
  progress: 0,
  attempts: 1,
  priority: 0,
  payload: {},
  estimate: {},
  metadata: {},
  callback_url: null,
  created_by: null,
  error_code: null,
  error_message: null,
  output_key: null,
  output_content_type: null,
  output_bytes: null,
  output_duration_seconds: null,
  output_expires_at: null,
  output_deleted_at: null,
  result: null,
  enqueued_at: now,
  reenqueues: 0,
  cancel_requested_at: null,
  created_at: now,
  started_at: now,
  finished_at: null,
  updated_at: now,
};

const counted = z.object({ count: z.number().int() });

const count: StepDefinition<null, z.infer<typeof counted>, 'count'> = {
  name: 'count',
  weight: 1,
  run: async () => ({ result: { count: 3 } }),
};

// The deadline sees what the run sees: the results the step reads, parsed.
const seen: unknown[] = [];
const double = readingStep({
  name: 'double',
  weight: 1,
  reads: z.object({ count: counted }),
  deadlineMs: (ctx: DeadlineContext<null, { count: { count: number } }>) => {
    seen.push(ctx.results);
    return ctx.results.count.count * 1000;
  },
  run: async (ctx) => ({ result: { doubled: ctx.results.count.count * 2 } }),
});

describe('steps that read earlier results', () => {
  it('when a step reads an earlier result, then it sees it parsed, and only what it reads', () => {
    const [, reader] = steps<null>().add(count).add(double).steps;
    const deadline = reader?.deadlineMs?.({
      job,
      payload: null,
      config,
      results: { count: { count: 3 }, other: 1 },
    });
    expect(deadline).toBe(3000);
    expect(seen.at(-1)).toEqual({ count: { count: 3 } });
  });

  it('when a stored result does not parse, then the step fails with step_failed and is not retried', () => {
    const read = () =>
      double.deadlineMs?.({ job, payload: null, config, results: { count: { count: 'three' } } });
    expect(read).toThrow(TaskError);
    expect(read).toThrow(expect.objectContaining({ code: 'step_failed', retryable: false }));
    expect(read).toThrow('step double: the results it reads do not parse (/count/count: Expected number');
  });

  it('when no earlier step leaves what a step reads, then the list does not compile', () => {
    // @ts-expect-error — `double` reads `count`, which no step before it leaves.
    expect(steps<null>().add(double).steps).toHaveLength(1);
  });
});
