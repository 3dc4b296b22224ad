import { describe, expect, it } from 'vitest';
import { newId } from './ids.ts';

describe('newId', () => {
  it('when many ids are made, across pool refills, then each is prefixed, 16 base64url characters and unique', () => {
    const ids = Array.from({ length: 5_000 }, () => newId('job'));
    for (const id of ids) expect(id).toMatch(/^job_[A-Za-z0-9_-]{16}$/);
    expect(new Set(ids).size).toBe(ids.length);
    // No two ids share their random part, not even a prefix of it (a pool reused would).
    expect(new Set(ids.map((id) => id.slice(4, 12))).size).toBe(ids.length);
  });
});
