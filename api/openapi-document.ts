import { loadConfig } from '../shared/config/config.ts';
import { type ApiDeps, apiOperations } from './app.ts';
import { buildOpenApiDocument } from './http/openapi.ts';

/**
 * A stand-in for a dependency that operations only capture at declaration time: reading a
 * property gives another stand-in, calling one throws. Declaring the operations must not touch
 * Postgres, Redis or SMTP, so this catches a declaration that starts doing so.
 */
function inert(name: string): unknown {
  const fn = () => {
    throw new Error(`${name} was called while only declaring operations`);
  };
  return new Proxy(fn, {
    get: (_target, key) => (key === 'then' ? undefined : inert(`${name}.${String(key)}`)),
  });
}

/**
 * The OpenAPI document `GET /openapi.json` serves, built in-process from the same operations
 * with the default configuration and no running dependency (for generating the SDK's types).
 */
export function openApiDocument(serverUrl = 'https://api.rendermill.dev'): Record<string, unknown> {
  const config = loadConfig({});
  const deps = new Proxy({ config } as ApiDeps, {
    get: (target, key: string) => (key === 'config' ? target.config : inert(key)),
  });
  return buildOpenApiDocument(apiOperations(deps), serverUrl);
}
