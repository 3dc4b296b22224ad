import { readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

/**
 * load/k6/scenarios.json, the one definition the k6 scripts (through load/k6/lib.js) and the
 * Node runner both read: executor (k6's ramping-arrival-rate), steps with their checks, custom
 * rate metrics and thresholds.
 */
export const K6_DIR = path.resolve(import.meta.dirname, '../k6');

const check = z
  .object({
    name: z.string(),
    status: z.array(z.number().int()).optional(),
    ifStatus: z.number().int().optional(),
    header: z.string().optional(),
    json: z.string().optional(),
    equals: z.union([z.string(), z.number(), z.boolean()]).optional(),
    minBytes: z.number().int().optional(),
  })
  .strict();

const step = z
  .object({
    name: z.string(),
    method: z.enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']),
    path: z.string().startsWith('/'),
    body: z.unknown().optional(),
    bodyFile: z.string().optional(),
    headers: z.record(z.string()).optional(),
    followRedirects: z.boolean().optional(),
    expectedStatuses: z.array(z.number().int()).min(1),
    repeat: z
      .object({
        untilJson: z.string(),
        in: z.array(z.string()),
        max: z.number().int().positive(),
        pauseSeconds: z.number().positive(),
      })
      .strict()
      .optional(),
    checks: z.array(check).min(1),
    save: z.record(z.string()).optional(),
  })
  .strict();

const duration = z.string().regex(/^\d+(ms|s|m)$/);

export const scenarioSchema = z
  .object({
    description: z.string(),
    auth: z.enum(['none', 'first', 'round-robin']),
    executor: z
      .object({
        timeUnit: duration,
        startRate: z.number().min(0),
        preAllocatedVUs: z.number().int().positive(),
        maxVUs: z.number().int().positive(),
        stages: z.array(z.object({ duration, target: z.number().min(0) }).strict()).min(1),
      })
      .strict(),
    steps: z.array(step).min(1),
    metrics: z.record(z.object({ step: z.string(), status: z.number().int() }).strict()),
    thresholds: z.record(
      z.array(z.string().regex(/^(p\(\d+(\.\d+)?\)|avg|min|max|med|rate)\s*[<>]=?\s*[\d.]+$/)),
    ),
  })
  .strict();

export type Scenario = z.infer<typeof scenarioSchema>;
export type Step = Scenario['steps'][number];
export type Check = Step['checks'][number];

export function loadScenarios(): Record<string, Scenario> {
  const raw = JSON.parse(readFileSync(path.join(K6_DIR, 'scenarios.json'), 'utf8')) as Record<
    string,
    unknown
  >;
  return Object.fromEntries(Object.entries(raw).map(([name, s]) => [name, scenarioSchema.parse(s)]));
}

/** `10s` → 10000, `500ms` → 500, `2m` → 120000 (k6 duration strings). */
export function durationMs(d: string): number {
  const m = /^(\d+)(ms|s|m)$/.exec(d);
  if (!m) throw new Error(`bad duration ${d}`);
  return Number(m[1]) * ({ ms: 1, s: 1_000, m: 60_000 } as const)[m[2] as 'ms' | 's' | 'm'];
}
