import { describe, expect, it } from 'vitest';
import { decodeJobCursor, encodeJobCursor } from './job-cursor.ts';

describe('job list cursor', () => {
  it('when a position is encoded, then it decodes to the same microsecond timestamp and id', () => {
    const p = { createdAt: '2026-11-20T12:34:56.123456Z', id: 'job_x-Y_z' };
    const c = encodeJobCursor(p);
    expect(c).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeJobCursor(c)).toEqual(p);
  });

  it.each([
    ['not base64url', '!!!'],
    ['not JSON', Buffer.from('nope').toString('base64url')],
    ['an object', Buffer.from('{"a":1}').toString('base64url')],
    [
      'a date that does not exist',
      encodeJobCursor({ createdAt: '2026-02-30T00:00:00.000000Z', id: 'job_1' }),
    ],
    ['an hour 24', encodeJobCursor({ createdAt: '2026-02-01T24:00:00.000000Z', id: 'job_1' })],
    ['a timestamp without microseconds', encodeJobCursor({ createdAt: '2026-02-01T00:00:00Z', id: 'job_1' })],
    ['an empty id', encodeJobCursor({ createdAt: '2026-02-01T00:00:00.000000Z', id: '' })],
    ['an overlong cursor', 'A'.repeat(201)],
  ])('when the cursor is %s, then it is refused', (_what, cursor) => {
    expect(decodeJobCursor(cursor)).toBeNull();
  });
});
