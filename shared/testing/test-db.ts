import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import { dbUrl, withAdmin } from './test-db-admin.ts';

/** A fresh database cloned from the template (milliseconds, unlike running migrations). */
export async function cloneTestDb(): Promise<{ name: string; url: string; drop(): Promise<void> }> {
  const name = `rm_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  const template = inject('templateDb');
  await withAdmin((c) => c.query(`CREATE DATABASE "${name}" TEMPLATE "${template}"`));
  return {
    name,
    url: dbUrl(name),
    drop: () =>
      withAdmin((c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)).then(() => undefined),
  };
}

declare module 'vitest' {
  export interface ProvidedContext {
    templateDb: string;
  }
}
