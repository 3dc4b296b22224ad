import { describe, expect, it } from 'vitest';
import { canonicalJson, requestHash } from './request-hash.ts';

describe('idempotency request hash', () => {
  it('when only key order differs, then the hash is the same', () => {
    const a = {
      scenes: [{ text: 'hi', background: '#000000' }],
      fps: 30,
      metadata: { b: 1, a: [2, { d: 1, c: 2 }] },
    };
    const b = {
      metadata: { a: [2, { c: 2, d: 1 }], b: 1 },
      fps: 30,
      scenes: [{ background: '#000000', text: 'hi' }],
    };
    expect(canonicalJson(a)).toBe(canonicalJson(b));
    expect(requestHash('render', a)).toBe(requestHash('render', b));
  });

  it('when a value, an array order or the kind differs, then the hash differs', () => {
    const base = requestHash('render', { scenes: [1, 2], fps: 30 });
    expect(requestHash('render', { scenes: [2, 1], fps: 30 })).not.toBe(base);
    expect(requestHash('render', { scenes: [1, 2], fps: 25 })).not.toBe(base);
    expect(requestHash('tts', { scenes: [1, 2], fps: 30 })).not.toBe(base);
  });

  it('when a key is undefined, then it hashes as absent', () => {
    expect(canonicalJson({ a: 1, b: undefined })).toBe(canonicalJson({ a: 1 }));
  });
});
