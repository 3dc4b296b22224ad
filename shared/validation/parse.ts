import type { z } from 'zod';
import { ValidationError } from '../errors/http-errors.ts';

/** `['scenes', 2, 'text']` → `/scenes/2/text` (RFC 6901 escaping). */
export function toJsonPointer(path: ReadonlyArray<string | number>): string {
  return path.map((p) => `/${String(p).replaceAll('~', '~0').replaceAll('/', '~1')}`).join('');
}

/** Everything crossing a boundary is `unknown` until parsed: bad input → 400 naming each field. */
export function parseInput<S extends z.ZodTypeAny>(
  schema: S,
  input: unknown,
  status: 400 | 422 = 400,
): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data as z.output<S>;
  throw new ValidationError(
    result.error.issues.map((i) => ({ path: toJsonPointer(i.path), message: i.message })),
    status,
  );
}
