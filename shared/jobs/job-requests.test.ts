import { describe, expect, it } from 'vitest';
import { renderRequestSchema, renderSize } from './job-requests.ts';

describe('renderSize', () => {
  it('when an aspect is given, then the resolution name is the short side', () => {
    expect(renderSize({ resolution: '720p', aspect: '16:9' })).toEqual([1280, 720]);
    expect(renderSize({ resolution: '1080p', aspect: '9:16' })).toEqual([1080, 1920]);
    expect(renderSize({ resolution: '2160p', aspect: '1:1' })).toEqual([2160, 2160]);
  });

  it('when a stored request has no aspect, then it parses as 16:9', () => {
    const r = renderRequestSchema.parse({ scenes: [{ text: 'hi' }], resolution: '1080p' });
    expect(r.aspect).toBe('16:9');
    expect(renderSize(r)).toEqual([1920, 1080]);
  });
});
