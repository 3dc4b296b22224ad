import { type InfiniteData, type QueryClient, useQueryClient } from '@tanstack/react-query';
import { useEffect, useSyncExternalStore } from 'react';
import {
  AuthenticationError,
  type Job,
  type JobStep,
  NotFoundError,
  type Page,
  type RendermillEvent,
} from './rendermill.ts';
import type { Session } from './session.ts';
import { useSession } from './session-context.tsx';

/**
 * The one subscription to the tenant's event stream (`GET /v1/events`). Each event updates the
 * cache or invalidates the queries it makes stale, so pages never poll while it is connected. `live` tells pages
 * whether the stream is connected; only while it is not do they fall back to polling.
 */
let live = false;
const listeners = new Set<() => void>();
function setLive(value: boolean): void {
  if (live === value) return;
  live = value;
  for (const l of listeners) l();
}

export function useLive(): boolean {
  return useSyncExternalStore(
    (l) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    () => live,
  );
}

/** The job as a job event carries it (`data.job`): its state at that moment, without steps. */
interface EventJob {
  id: string;
  status: Job['status'];
  progress: number;
}

function eventJob(event: RendermillEvent): EventJob | undefined {
  const job = (event.data as { data?: { job?: Partial<EventJob> } }).data?.job;
  return typeof job?.id === 'string' && typeof job.status === 'string' && typeof job.progress === 'number'
    ? (job as EventJob)
    : undefined;
}

function eventStep(event: RendermillEvent): { name: string; cache_hit?: boolean } | undefined {
  const step = (event.data as { data?: { step?: { name?: unknown; cache_hit?: unknown } } }).data?.step;
  if (typeof step?.name !== 'string') return undefined;
  return typeof step.cache_hit === 'boolean'
    ? { name: step.name, cache_hit: step.cache_hit }
    : { name: step.name };
}

const createdAt = (event: RendermillEvent): string => {
  const at = (event.data as { created_at?: unknown }).created_at;
  return typeof at === 'string' ? at : new Date().toISOString();
};

/** The cached job moved on by one running event: status, progress (never backwards), the step. */
function patchJob(job: Job, event: RendermillEvent, ej: EventJob): Job {
  const at = createdAt(event);
  const next: Job = { ...job, status: ej.status, progress: Math.max(job.progress, ej.progress) };
  if (event.type === 'job.started' && !job.started_at) next.started_at = at;
  const step = eventStep(event);
  if (step && (event.type === 'job.step.started' || event.type === 'job.step.succeeded')) {
    const done = event.type === 'job.step.succeeded';
    const patch = (s: JobStep): JobStep =>
      done
        ? {
            ...s,
            status: 'succeeded',
            finished_at: at,
            ...(step.cache_hit === undefined ? {} : { cache_hit: step.cache_hit }),
          }
        : { ...s, status: 'running', started_at: s.started_at ?? at };
    next.steps = job.steps.some((s) => s.name === step.name)
      ? job.steps.map((s) => (s.name === step.name ? patch(s) : s))
      : [
          ...job.steps,
          patch({
            name: step.name,
            status: 'pending',
            started_at: null,
            finished_at: null,
            attempt: 1,
            cache_hit: false,
            voice_engine: null,
          }),
        ];
  }
  return next;
}

type JobPages = InfiniteData<Page<Job>>;

/**
 * Applies one event to the cache. A running job's events (started, step started/succeeded,
 * progress) carry its state, so the cached job and its list rows are patched in place: no
 * request per event. A new job (queued) or a final one (succeeded, failed, canceled: output,
 * error and usage billed, which events do not carry) is read again, once.
 */
export function applyEvent(queries: QueryClient, event: RendermillEvent): void {
  if (event.type.startsWith('job.')) {
    const ej = eventJob(event);
    const settled = /^job\.(succeeded|failed|canceled)$/.test(event.type);
    if (!ej || settled || event.type === 'job.queued') {
      if (ej) void queries.invalidateQueries({ queryKey: ['job', ej.id] });
      void queries.invalidateQueries({ queryKey: ['jobs'] });
    } else {
      queries.setQueryData<Job>(['job', ej.id], (job) => (job ? patchJob(job, event, ej) : job));
      queries.setQueriesData<JobPages>({ queryKey: ['jobs'] }, (list) =>
        list
          ? {
              ...list,
              pages: list.pages.map((p) => ({
                ...p,
                data: p.data.map((j) => (j.id === ej.id ? patchJob(j, event, ej) : j)),
              })),
            }
          : list,
      );
      // A list filtered by status may have to drop or gain this job now.
      if (event.type === 'job.started') {
        void queries.invalidateQueries({
          queryKey: ['jobs'],
          predicate: (q) => Boolean((q.queryKey[1] as { status?: string } | undefined)?.status),
        });
      }
    }
    // Steps finishing move usage from reserved to used; settling releases the rest.
    if (settled || event.type === 'job.step.succeeded') {
      void queries.invalidateQueries({ queryKey: ['usage'] });
    }
  } else if (event.type.startsWith('usage.')) {
    void queries.invalidateQueries({ queryKey: ['usage'] });
  } else if (event.type.startsWith('billing.')) {
    // A Stripe event changed the plan or the subscription: limits and invoices may have too.
    void queries.invalidateQueries({ queryKey: ['billing'] });
    void queries.invalidateQueries({ queryKey: ['usage'] });
  } else if (event.type === 'notification.created') {
    // Someone's feed in this tenant changed (maybe ours): the bell reads its count again.
    void queries.invalidateQueries({ queryKey: ['notifications'] });
    const type = (event.data as { data?: { notification?: { type?: unknown } } }).data?.notification?.type;
    // A deletion scheduled or canceled by another owner: the Account page shows it at once.
    if (typeof type === 'string' && type.startsWith('deletion.')) {
      void queries.invalidateQueries({ queryKey: ['account'] });
    }
  } else if (event.type.startsWith('webhook.')) {
    void queries.invalidateQueries({ queryKey: ['webhook-deliveries'] });
  }
}

async function follow(session: Session, queries: QueryClient, signal: AbortSignal): Promise<void> {
  let since: string | undefined;
  let delay = 1000;
  while (!signal.aborted) {
    try {
      const stream = session.client().events.stream({ ...(since ? { since } : {}), signal });
      setLive(true);
      // Whatever happened while we were away: read it again.
      if (since) void queries.invalidateQueries();
      for await (const event of stream) {
        delay = 1000;
        if (event.id) since = event.id;
        applyEvent(queries, event);
      }
    } catch (err) {
      if (signal.aborted) return;
      if (err instanceof AuthenticationError) {
        try {
          await session.refresh();
          continue;
        } catch {
          return; // signed out: the app shows the sign-in page
        }
      }
      // No stream on this API (older server): pages poll instead, and we look again later.
      if (err instanceof NotFoundError) delay = 30_000;
    }
    setLive(false);
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 30_000);
  }
}

/** Mount once, inside the signed-in layout. */
export function useLiveEvents(): void {
  const session = useSession();
  const queries = useQueryClient();
  useEffect(() => {
    const ctl = new AbortController();
    void follow(session, queries, ctl.signal);
    return () => {
      ctl.abort();
      setLive(false);
    };
  }, [session, queries]);
}
