import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import openapiTS, { astToString, COMMENT_HEADER } from 'openapi-typescript';
import { openApiDocument } from '../../api/openapi-document.ts';

/** Where the SDK's generated types live (committed; `npm run sdk:types` rewrites it). */
export const GENERATED_TYPES_PATH = path.resolve(import.meta.dirname, '../src/generated/openapi.ts');

/** The TypeScript of `paths`, `components` and `operations` of the API's OpenAPI document. */
export async function generateTypes(): Promise<string> {
  const ast = await openapiTS(openApiDocument() as never);
  return `${COMMENT_HEADER}// Source: GET /openapi.json, built in-process (api/openapi-document.ts). Regenerate: npm run sdk:types\n\n${astToString(ast)}`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await writeFile(GENERATED_TYPES_PATH, await generateTypes());
  console.log(`wrote ${path.relative(process.cwd(), GENERATED_TYPES_PATH)}`);
}
