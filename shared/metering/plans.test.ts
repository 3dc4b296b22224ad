import { rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_PLANS, loadPlanCatalogue, PlansFileError } from './plans.ts';
import { effectivePlanName } from './tenant-plan.ts';

const written: string[] = [];
afterAll(() => {
  for (const file of written) rmSync(file, { force: true });
});

function plansFile(content: string): string {
  const file = path.join(os.tmpdir(), `plans-${process.pid}-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, content);
  written.push(file);
  return file;
}

describe('plan catalogue', () => {
  it('when PLANS_FILE is unset, then the built-in catalogue applies in metric units', () => {
    const c = loadPlanCatalogue();
    expect(c.plans.map((p) => p.name)).toEqual(['free', 'pro', 'enterprise']);
    expect(c.get('free').limits).toEqual({
      render_seconds: 30_000,
      tts_seconds: 60_000,
      images: 500,
      storage_bytes: 100_000_000_000,
    });
    expect(c.get('pro')).toMatchObject({ overage: true, max_resolution: '2160p', usage_export: true });
    expect(c.get('enterprise').limits.render_seconds).toBeNull();
    expect([
      c.maxConcurrentRenders('free'),
      c.maxConcurrentRenders('pro'),
      c.maxConcurrentRenders('enterprise'),
    ]).toEqual([1, 5, 20]);
    expect(c.priorityFor('enterprise')).toBeLessThan(c.priorityFor('pro'));
    expect(c.priorityFor('pro')).toBeLessThan(c.priorityFor('free'));
    expect(c.get('no-such-plan').name).toBe('free');
  });

  it('when PLANS_FILE names a catalogue, then it replaces the defaults and fills optional fields', () => {
    const c = loadPlanCatalogue(
      plansFile(
        JSON.stringify({
          free: {
            limits: { render_seconds: 60, tts_seconds: 60, images: 5, storage_bytes: null },
            max_resolution: '720p',
            overage: false,
          },
          team: {
            limits: { render_seconds: 600, tts_seconds: 600, images: 50, storage_bytes: null },
            max_resolution: '2160p',
            overage: true,
            stripe: { base_price: 'price_team' },
          },
        }),
      ),
    );
    expect(c.plans.map((p) => p.name)).toEqual(['free', 'team']);
    expect(c.get('free')).toMatchObject({ usage_export: false, max_concurrent_renders: 1, priority: 10 });
    expect(c.get('team').usage_export).toBe(true);
    expect(c.get('team').stripe).toMatchObject({
      base_price: 'price_team',
      meter_events: { render_seconds: 'rendermill_render_seconds' },
    });
    expect(c.firstWith((p) => p.max_resolution === '2160p')?.name).toBe('team');
  });

  it('when PLANS_FILE is invalid, then the error names the file and the field', () => {
    const bad = structuredClone(DEFAULT_PLANS) as Record<string, { limits: Record<string, unknown> }>;
    (bad.pro as { limits: Record<string, unknown> }).limits.render_seconds = '150000';
    const file = plansFile(JSON.stringify(bad));
    expect(() => loadPlanCatalogue(file)).toThrow(PlansFileError);
    expect(() => loadPlanCatalogue(file)).toThrow(
      new RegExp(`${file}[\\s\\S]*pro\\.limits\\.render_seconds`),
    );
    expect(() => loadPlanCatalogue(plansFile('{ nope'))).toThrow(/PLANS_FILE .*JSON/);
    expect(() => loadPlanCatalogue(plansFile(JSON.stringify({ pro: DEFAULT_PLANS.pro })))).toThrow(
      /"free" plan/,
    );
  });

  it('when a subscription is past due, canceled or ended at its period end, then the effective plan follows', () => {
    const base = {
      plan: 'pro',
      subscription_status: 'active',
      past_due_since: null,
      current_period_end: null,
      cancel_at_period_end: false,
    };
    const now = new Date('2026-12-10T00:00:00Z');
    expect(effectivePlanName(base, now)).toBe('pro');
    expect(
      effectivePlanName(
        { ...base, subscription_status: 'past_due', past_due_since: new Date('2026-12-05T00:00:00Z') },
        now,
      ),
    ).toBe('pro');
    expect(
      effectivePlanName(
        { ...base, subscription_status: 'past_due', past_due_since: new Date('2026-12-01T00:00:00Z') },
        now,
      ),
    ).toBe('free');
    expect(effectivePlanName({ ...base, subscription_status: 'canceled' }, now)).toBe('free');
    expect(
      effectivePlanName(
        { ...base, cancel_at_period_end: true, current_period_end: new Date('2026-12-31T00:00:00Z') },
        now,
      ),
    ).toBe('pro');
    expect(
      effectivePlanName(
        { ...base, cancel_at_period_end: true, current_period_end: new Date('2026-12-01T00:00:00Z') },
        now,
      ),
    ).toBe('free');
  });
});
