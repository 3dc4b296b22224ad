import type { Metric } from '../jobs/estimate.ts';

/**
 * storage_bytes is the bytes of outputs held now, not a monthly flow: its counter lives on this
 * one fixed period and only goes up (outputs written) and down (outputs deleted or expired).
 */
export const STORAGE_PERIOD = '1970-01-01';

/** The UTC month containing `at`: `[start, end)`. */
export function periodOf(at: Date): { start: Date; end: Date } {
  const start = new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), 1));
  const end = new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth() + 1, 1));
  return { start, end };
}

/** `YYYY-MM-01` of the UTC month containing `at` (the `period_start` column). */
export function periodKey(at: Date): string {
  return periodOf(at).start.toISOString().slice(0, 10);
}

/** The counter period a metric's usage at `at` lands in. */
export function counterPeriod(metric: Metric, at: Date): string {
  return metric === 'storage_bytes' ? STORAGE_PERIOD : periodKey(at);
}
