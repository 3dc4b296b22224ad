import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openApiDocument } from '../../api/openapi-document.ts';
import { startTestApi, type TestApi } from '../../api/testing/api-harness.ts';
import { GENERATED_TYPES_PATH, generateTypes } from '../scripts/generate-types.ts';

/**
 * The SDK's types are generated from the OpenAPI document and committed; an operation whose
 * schema changes without `npm run sdk:types` fails here, and so does an in-process document
 * that drifts from the one the running API serves.
 */
describe('the SDK types generated from the OpenAPI document', () => {
  let t: TestApi;
  beforeAll(async () => {
    t = await startTestApi();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('when the types are regenerated, then they equal the committed sdk/src/generated/openapi.ts', async () => {
    const committed = await readFile(GENERATED_TYPES_PATH, 'utf8');
    const fresh = await generateTypes();
    expect(fresh.length).toBeGreaterThan(10_000);
    // A readable failure: the first differing line, not a 200 KB diff.
    const a = committed.split('\n');
    const b = fresh.split('\n');
    const at = b.findIndex((line, i) => line !== a[i]);
    expect(
      at === -1 && a.length === b.length ? null : { line: at + 1, committed: a[at], generated: b[at] },
      'sdk/src/generated/openapi.ts is stale: run `npm run sdk:types` and commit it',
    ).toBeNull();
  });

  it('when the document is built in-process, then its paths and schemas are the ones GET /openapi.json serves', async () => {
    const served = (await t.call('GET', '/openapi.json')).body as Record<string, unknown>;
    const built = openApiDocument();
    expect(Object.keys(built.paths as object).sort()).toEqual(Object.keys(served.paths as object).sort());
    expect(built.paths).toEqual(served.paths);
    expect(built.components).toEqual(served.components);
  });
});
