import { readFileSync } from 'node:fs';
import path from 'node:path';

/** The sample requests every walkthrough, test and benchmark uses, kept in `load/fixtures/`. */
export type FixtureName = 'render-short' | 'render-minute';

export function fixturePath(name: FixtureName): string {
  return path.resolve(import.meta.dirname, '../../load/fixtures', `${name}.json`);
}

/** A fresh parsed copy of a fixture (callers may mutate it). */
export function readFixture(name: FixtureName): Record<string, unknown> {
  return JSON.parse(readFileSync(fixturePath(name), 'utf8')) as Record<string, unknown>;
}
