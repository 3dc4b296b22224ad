import { describe, expect, it } from 'vitest';
import { loadConfig } from '../shared/config/config.ts';
import { JOBS } from '../shared/queue/queues.ts';
import { createCatalog, schedules } from './registry.ts';

const config = loadConfig({ RECONCILE_INTERVAL_SECONDS: '45' });

describe('worker catalog', () => {
  it('when built, then every job name of the shared catalog has a task on its queue with its policy', () => {
    const catalog = createCatalog();
    expect([...catalog.keys()].sort()).toEqual(Object.keys(JOBS).sort());
    for (const [name, spec] of Object.entries(JOBS)) {
      expect(catalog.get(name)).toMatchObject({ name, queue: spec.queue, policy: spec.policy });
    }
  });

  it('when scheduling, then the maintenance jobs are scheduled at their intervals', () => {
    expect(schedules(config)).toEqual([
      { name: 'jobs.reconcile', everyMs: 45_000 },
      { name: 'outputs.sweep', everyMs: 3_600_000 },
      { name: 'usage.report', everyMs: 60_000 },
      { name: 'usage.alert', everyMs: 60_000 },
      { name: 'reservations.sweep', everyMs: 60_000 },
    ]);
  });
});
