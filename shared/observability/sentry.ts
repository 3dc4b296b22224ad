import * as Sentry from '@sentry/node';

let enabled = false;

/** Initialises Sentry once per process when a DSN is configured. */
export function initSentry(dsn: string | undefined, serverName: string): void {
  if (!dsn || enabled) return;
  Sentry.init({ dsn, serverName, tracesSampleRate: 0, sendDefaultPii: false });
  enabled = true;
}

/** Reports an unexpected error with the request id and tenant id as tags. */
export function reportError(
  err: unknown,
  tags: { request_id?: string; tenant_id?: string; job_id?: string } = {},
): void {
  if (!enabled) return;
  Sentry.withScope((scope) => {
    for (const [k, v] of Object.entries(tags)) if (v) scope.setTag(k, v);
    Sentry.captureException(err);
  });
}

export async function flushSentry(): Promise<void> {
  if (enabled) await Sentry.flush(2_000);
}
