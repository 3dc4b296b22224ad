import { describe, expect, it } from 'vitest';
import { FAIR_QUEUES, KIND_ROUTING } from './queues.ts';

describe('queue catalog', () => {
  it('when read, then exactly the render and media queues (render, tts and image jobs) are fair-share dispatched, and segments is not', () => {
    expect(FAIR_QUEUES).toEqual(['render', 'media']);
    const fairKinds = Object.entries(KIND_ROUTING)
      .filter(([, route]) => FAIR_QUEUES.includes(route.queue))
      .map(([kind]) => kind);
    expect(fairKinds.sort()).toEqual(['image', 'render', 'tts']);
    expect(FAIR_QUEUES).not.toContain('segments');
  });
});
