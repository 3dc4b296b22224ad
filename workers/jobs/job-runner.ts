import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DelayedError, type Job, UnrecoverableError, WaitingChildrenError } from 'bullmq';
import { isOpen, type JobRow } from '../../shared/jobs/job-contract.ts';
import type { JobRepository } from '../../shared/jobs/job-repository.ts';
import { tenantPlan } from '../../shared/metering/tenant-plan.ts';
import { recordUsage } from '../../shared/metering/usage-ledger.ts';
import { reportError } from '../../shared/observability/sentry.ts';
import type { TenantJobPayload } from '../../shared/queue/queues.ts';
import type { SafeParser } from '../../shared/validation/parse.ts';
import { watchCancel } from './cancel-watch.ts';
import { createChildJobs } from './child-jobs.ts';
import { finalizeJob } from './finalize-job.ts';
import { classifyError, JobCanceledError, StepTimeoutError } from './job-errors.ts';
import { createJobEvents } from './job-events.ts';
import type { WorkerServices } from './services.ts';
import type { StepDefinition } from './step.ts';

/** How a tenant job kind runs: its request schema and ordered steps. */
export interface JobDefinition<P = unknown> {
  kind: JobRow['kind'];
  /** zod 3 or zod 4 schema of the stored request. */
  request: SafeParser<P>;
  /** In order; built with `steps()` when a step reads earlier results, so the reads are type-checked. */
  steps: readonly StepDefinition<P>[];
}

/**
 * Runs one attempt of a tenant job as ordered steps. Steps finished by an earlier attempt are
 * skipped (their results reloaded), so a retry resumes instead of redoing paid work. Each step
 * gets an AbortSignal that fires on its deadline or on cancel, which kills its child processes.
 * Usage is written in the transaction that marks the step done — exactly once per step.
 * `job.started` and each step's `job.step.started` are announced once per attempt: not again when
 * BullMQ hands the same attempt back (a fan-out's join, a stalled job taken over).
 */
export async function runTenantJob<P>(
  services: WorkerServices,
  store: JobRepository,
  def: JobDefinition<P>,
  bullJob: Job,
  data: TenantJobPayload,
  token?: string,
): Promise<void> {
  const { db, logger, metrics } = services;
  const job = await store.find(db, data.tenantId, data.jobId);
  if (!job || !isOpen(job.status)) return; // deleted, or already final
  if (job.cancel_requested_at) {
    await finalizeJob(services, store, job, 'canceled');
    return;
  }
  const attempt = bullJob.attemptsMade + 1;
  const maxAttempts = bullJob.opts.attempts ?? 1;
  // BullMQ hands a job back with the same attemptsMade (it counts failures only) when a fanned-out
  // parent returns from waiting-children to join, or a stalled job is taken over; `start` accepts
  // running → running. The row already running this attempt means the attempt was announced.
  const resumed = job.status === 'running' && job.attempts === attempt;
  const started = await start(services, store, job, attempt);
  if (started === 'wait') {
    // The tenant's plan allows no more renders at once: wait, don't refuse (re-checked in 2 s).
    await bullJob.moveToDelayed(Date.now() + RENDER_SLOT_RETRY_MS, token);
    throw new DelayedError();
  }
  if (started === 'gone') {
    await finalizeJob(services, store, job, 'canceled');
    return;
  }
  const events = createJobEvents(services, job);
  if (!resumed) await events.started(attempt);

  const parsed = def.request.safeParse(job.payload);
  if (!parsed.success) {
    await finalizeJob(services, store, job, 'failed', {
      code: 'bad_input',
      message: parsed.error.issues[0]?.message ?? 'invalid payload',
    });
    return;
  }
  const payload = parsed.data;

  const cancel = watchCancel(store, db, job.id);
  const workDir = await mkdtemp(path.join(os.tmpdir(), `rendermill-${job.id}-`));
  const totalWeight = def.steps.reduce((s, x) => s + x.weight, 0) || 1;
  let stepName = '';
  try {
    const stepRows = await store.steps(db, job.id);
    const done = new Map(stepRows.filter((s) => s.status === 'succeeded').map((s) => [s.name, s.result]));
    // The hand-back that makes `resumed` leaves a step running: a fanned-out compose waits for its
    // segments, a stalled job's step was cut off. Running this attempt, it was announced then.
    const announced = new Set(
      stepRows.filter((s) => s.status === 'running' && s.attempt === attempt).map((s) => s.name),
    );
    const results: Record<string, unknown> = Object.fromEntries(done);
    let before = 0;
    for (const [position, step] of def.steps.entries()) {
      stepName = step.name;
      const base = before / totalWeight;
      const span = step.weight / totalWeight;
      before += step.weight;
      if (done.has(step.name)) continue;

      const deadlineMs =
        step.deadlineMs?.({ job, payload, results, config: services.config }) ??
        services.config.STEP_TIMEOUT_SECONDS * 1000;
      const timeout = new AbortController();
      const timer = setTimeout(() => timeout.abort(new StepTimeoutError(step.name, deadlineMs)), deadlineMs);
      const signal = AbortSignal.any([cancel.signal, timeout.signal]);
      await store.startStep(db, { jobId: job.id, name: step.name, position, attempt });
      if (!announced.has(step.name)) await events.stepStarted(step.name, attempt);
      const endTimer = metrics.stepDuration.startTimer({ kind: job.kind, step: step.name });
      try {
        const outcome = await untilAborted(
          step.run({
            services,
            job,
            payload,
            signal,
            results,
            workDir,
            children: token ? createChildJobs(services.producer, bullJob, token) : undefined,
            progress: async (f) => {
              const value = base + span * Math.max(0, Math.min(1, f));
              await store.progress(db, job.id, value);
              await events.progress(value, step.name);
            },
          }),
          signal,
        );
        const recorded = await db.transaction(async (trx) => {
          await store.finishStep(trx, job.id, step.name, {
            result: outcome.result ?? null,
            cacheHit: outcome.cacheHit ?? false,
            voiceEngine: outcome.voiceEngine,
          });
          const inserted = await recordUsage(
            trx,
            (outcome.usage ?? []).map((u) => ({
              tenantId: job.tenant_id,
              jobId: job.id,
              step: step.name,
              ...u,
            })),
          );
          if (outcome.output) {
            const retentionMs = services.config.OUTPUT_RETENTION_DAYS * 86_400_000;
            await store.setOutput(trx, job.id, outcome.output, retentionMs);
          }
          if (outcome.jobResult) await store.setResult(trx, job.id, outcome.jobResult);
          await store.progress(trx, job.id, base + span);
          return inserted;
        });
        for (const u of recorded) metrics.usageRecorded.inc({ metric: u.metric }, u.quantity);
        results[step.name] = outcome.result ?? null;
        await events.stepSucceeded(step.name, attempt, outcome.cacheHit ?? false, base + span);
        if (outcome.cacheHit) metrics.cacheHits.inc({ kind: job.kind });
        endTimer({ outcome: 'succeeded' });
      } catch (err) {
        // Fanned out: the step stays running while its children work; the job comes back to it.
        if (err instanceof WaitingChildrenError) throw err;
        endTimer({ outcome: err instanceof JobCanceledError ? 'canceled' : 'failed' });
        await store
          .failStep(db, job.id, step.name, err instanceof Error ? err.message : String(err))
          .catch(() => undefined);
        throw err;
      } finally {
        clearTimeout(timer);
      }
    }
    await finalizeJob(services, store, job, 'succeeded');
  } catch (err) {
    if (err instanceof WaitingChildrenError) throw err;
    if (err instanceof JobCanceledError || cancel.signal.aborted) {
      await finalizeJob(services, store, job, 'canceled');
      return;
    }
    const c = classifyError(err);
    if (!c.retryable || attempt >= maxAttempts) {
      logger.warn({ job_id: job.id, step: stepName, code: c.code, attempt }, 'job failed');
      if (c.code === 'step_failed') reportError(err, { job_id: job.id, tenant_id: job.tenant_id });
      await finalizeJob(services, store, job, 'failed', { code: c.code, message: c.message });
      throw new UnrecoverableError(c.message);
    }
    metrics.retries.inc({ kind: job.kind });
    logger.info({ job_id: job.id, step: stepName, code: c.code, attempt }, 'attempt failed; will retry');
    throw err;
  } finally {
    cancel.stop();
    await rm(workDir, { recursive: true, force: true });
  }
}

const RENDER_SLOT_RETRY_MS = 2_000;

/**
 * The share of the job's progress bar that step `name` covers: `base + span × fraction`. Child jobs
 * of a step (render.segment) report into the same range the runner gives the step itself.
 */
export function stepSpan<P>(def: JobDefinition<P>, name: string): { base: number; span: number } {
  const total = def.steps.reduce((s, x) => s + x.weight, 0) || 1;
  const at = def.steps.findIndex((s) => s.name === name);
  if (at < 0) throw new Error(`no step ${name}`);
  const before = def.steps.slice(0, at).reduce((s, x) => s + x.weight, 0);
  return { base: before / total, span: def.steps[at]!.weight / total };
}

/** Renders count against the plan's concurrent-render limit; other kinds start at once. */
async function start(services: WorkerServices, store: JobRepository, job: JobRow, attempt: number) {
  if (job.kind !== 'render' || !services.plans) {
    return (await store.markRunning(services.db, job.id, attempt)) ? 'running' : 'gone';
  }
  const plan = await tenantPlan(services.db, services.plans, job.tenant_id);
  return store.markRunningWithinLimit(services.db, {
    jobId: job.id,
    tenantId: job.tenant_id,
    attempt,
    limit: plan.max_concurrent_renders,
  });
}

/** Rejects as soon as the signal fires, even if the step ignores it (its children are killed by their own handlers). */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener('abort', onAbort);
        reject(signal.aborted ? signal.reason : e);
      },
    );
  });
}
