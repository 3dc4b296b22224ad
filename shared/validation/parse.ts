import { ValidationError } from '../errors/http-errors.ts';

/** `['scenes', 2, 'text']` → `/scenes/2/text` (RFC 6901 escaping). */
export function toJsonPointer(path: ReadonlyArray<PropertyKey>): string {
  return path.map((p) => `/${String(p).replaceAll('~', '~0').replaceAll('/', '~1')}`).join('');
}

interface Issue {
  path: ReadonlyArray<PropertyKey>;
  message: string;
  code?: string;
  /** `unrecognized_keys`: the extra properties of the object at `path`. */
  keys?: ReadonlyArray<string>;
}

/** What zod 3 and zod 4 (`zod/v4`) schemas both offer. */
export interface SafeParser<T> {
  safeParse(input: unknown):
    | { success: true; data: T }
    | {
        success: false;
        error: { issues: ReadonlyArray<Issue> };
      };
}

/**
 * Everything crossing a boundary is `unknown` until parsed: bad input → 400 naming each field.
 * `at` prefixes the pointers (`/headers` for a header, nothing for body and query fields).
 */
export function parseInput<T>(schema: SafeParser<T>, input: unknown, status: 400 | 422 = 400, at = ''): T {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  throw new ValidationError(
    result.error.issues.flatMap((i) =>
      // An extra property is named itself, not its parent object.
      i.code === 'unrecognized_keys' && i.keys?.length
        ? i.keys.map((k) => ({
            path: at + toJsonPointer([...i.path, k]),
            message: 'is not an allowed property',
          }))
        : [{ path: at + toJsonPointer(i.path), message: i.message }],
    ),
    status,
  );
}
