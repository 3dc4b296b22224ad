import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../shared/errors/http-errors.ts';
import { decodeIdCursor, decodeTimeCursor, encodeCursor, encodeTimeCursor } from './keyset-cursor.ts';

/** The field the 400 names, or a failure when the cursor was accepted. */
function refusal(decode: () => unknown): string | undefined {
  try {
    decode();
  } catch (err) {
    expect(err).toBeInstanceOf(ValidationError);
    return (err as ValidationError).errors[0]?.path;
  }
  throw new Error('the cursor was accepted');
}

describe('keyset cursors (the one codec of every list)', () => {
  it('when a (timestamp, id) position is encoded, then it decodes to the same microsecond timestamp and id', () => {
    const c = encodeTimeCursor('2026-11-20T12:34:56.123456Z', 'job_x-Y_z');
    expect(c).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeTimeCursor(c)).toEqual({ at: '2026-11-20T12:34:56.123456Z', id: 'job_x-Y_z' });
  });

  it('when an id position is encoded, then it decodes to the same id', () => {
    expect(decodeIdCursor(encodeCursor([42]))).toBe(42);
  });

  const time = (at: string, id = 'job_1') => encodeTimeCursor(at, id);
  it.each([
    ['not base64url', '!!!'],
    ['not JSON', Buffer.from('nope').toString('base64url')],
    ['an object', Buffer.from('{"a":1}').toString('base64url')],
    ['three parts', encodeCursor(['2026-02-01T00:00:00.000000Z', 'job_1', 'x'])],
    ['a date that does not exist', time('2026-02-30T00:00:00.000000Z')],
    ['an hour 24', time('2026-02-01T24:00:00.000000Z')],
    ['a timestamp without microseconds', time('2026-02-01T00:00:00Z')],
    ['a year before 1970', time('1969-12-31T23:59:59.000000Z')],
    ['an empty id', time('2026-02-01T00:00:00.000000Z', '')],
    ['an overlong id', time('2026-02-01T00:00:00.000000Z', 'j'.repeat(101))],
    ['an overlong cursor', 'A'.repeat(201)],
  ])('when a time cursor is %s, then it is a 400 naming /cursor', (_what, cursor) => {
    expect(refusal(() => decodeTimeCursor(cursor))).toBe('/cursor');
  });

  it.each([
    ['a string id', encodeCursor(['7'])],
    ['zero', encodeCursor([0])],
    ['a fraction', encodeCursor([1.5])],
    ['two parts', encodeCursor([1, 2])],
  ])('when an id cursor is %s, then it is a 400 naming /cursor', (_what, cursor) => {
    expect(refusal(() => decodeIdCursor(cursor))).toBe('/cursor');
  });
});
