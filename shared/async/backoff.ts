/**
 * The pause before retry `attempt` (1 = the first retry): `baseMs` doubling each attempt, capped
 * at `maxMs`, times a random factor in [1 − jitter, 1 + jitter] so retries of many callers that
 * failed together do not arrive together.
 */
export function backoffDelay(o: {
  baseMs: number;
  attempt: number;
  /** Default: no cap */
  maxMs?: number;
  /** Fraction either side; default 0.2 (±20 %); 0 gives the plain exponential delay */
  jitter?: number;
}): number {
  const exponential = Math.min(
    o.baseMs * 2 ** Math.max(0, o.attempt - 1),
    o.maxMs ?? Number.POSITIVE_INFINITY,
  );
  const jitter = o.jitter ?? 0.2;
  return exponential * (1 - jitter + Math.random() * 2 * jitter);
}
