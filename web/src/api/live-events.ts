import { type QueryClient, useQueryClient } from '@tanstack/react-query';
import { useEffect, useSyncExternalStore } from 'react';
import { AuthenticationError, NotFoundError, type RendermillEvent } from './rendermill.ts';
import type { Session } from './session.ts';
import { useSession } from './session-context.tsx';

/**
 * The one subscription to the tenant's event stream (`GET /v1/events`). Each event invalidates the
 * queries it makes stale, so pages re-read through the API instead of polling. `live` tells pages
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

function jobIdOf(event: RendermillEvent): string | undefined {
  // Job events carry the job's state at that moment in `data.job`.
  const d = event.data as { data?: { job?: { id?: unknown } } };
  const id = d.data?.job?.id;
  return typeof id === 'string' ? id : undefined;
}

export function applyEvent(queries: QueryClient, event: RendermillEvent): void {
  if (event.type.startsWith('job.')) {
    const id = jobIdOf(event);
    if (id) void queries.invalidateQueries({ queryKey: ['job', id] });
    void queries.invalidateQueries({ queryKey: ['jobs'] });
    // Steps finishing move usage from reserved to used; settling releases the rest.
    if (/^job\.(step\.succeeded|succeeded|failed|canceled)$/.test(event.type)) {
      void queries.invalidateQueries({ queryKey: ['usage'] });
    }
  } else if (event.type.startsWith('usage.')) {
    void queries.invalidateQueries({ queryKey: ['usage'] });
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
