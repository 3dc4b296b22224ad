import { assert } from 'vitest';

/**
 * The row (or element, or column) a test expects to be there: fails the test, naming `what`,
 * when it is missing, and narrows away `undefined` and `null` for the assertions that read it.
 */
export function present<T>(value: T, what = 'a value'): NonNullable<T> {
  assert.exists(value, `expected ${what}`);
  return value;
}
