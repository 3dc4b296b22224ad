import { Validator } from '@seriousme/openapi-schema-validator';
import type { Express } from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFixture } from '../../shared/testing/fixtures.ts';
import { createApp } from '../app.ts';
import { BACKUPS_PATH } from '../features/ops/backup-routes.ts';
import { DASHBOARD_PATH } from '../features/ops/queue-dashboard.ts';
import { startTestApi, type TestApi } from '../testing/api-harness.ts';
import { SIGN_IN_LINK_PATH } from './web-app.ts';

type Json = Record<string, unknown>;
interface Layer {
  route?: { path: string; methods: Record<string, boolean> };
  handle?: { stack?: Layer[] };
  rawPath?: string;
  slash?: boolean;
}

/** Every `METHOD /path` Express would route, walking nested routers (`/v1/jobs/{id}` form). */
function mountedRoutes(app: Express): string[] {
  const out: string[] = [];
  const walk = (stack: Layer[], prefix: string) => {
    for (const layer of stack) {
      if (layer.route) {
        for (const [m, on] of Object.entries(layer.route.methods)) {
          if (on && m !== '_all') out.push(`${m.toUpperCase()} ${prefix}${layer.route.path}`);
        }
      } else if (layer.handle?.stack) {
        walk(layer.handle.stack, layer.slash || !layer.rawPath ? prefix : `${prefix}${layer.rawPath}`);
      }
    }
  };
  walk((app as unknown as { router: { stack: Layer[] } }).router.stack, '');
  return out
    .map((r) => r.replace(/:([A-Za-z0-9_]+)/g, '{$1}'))
    .filter((r) => !r.split(' ')[1]!.startsWith(DASHBOARD_PATH)) // bull-board: operators' UI, not the API
    .filter((r) => r !== `GET ${BACKUPS_PATH}`) // operators' Basic-auth backup status, like the dashboard
    .filter((r) => r !== `GET ${SIGN_IN_LINK_PATH}`) // the dashboard's page (a redirect while it is not built)
    .sort();
}

function documentedRoutes(doc: Json): string[] {
  return Object.entries(doc.paths as Record<string, Json>)
    .flatMap(([path, item]) => Object.keys(item).map((m) => `${m.toUpperCase()} ${path}`))
    .sort();
}

describe('the OpenAPI document', () => {
  let t: TestApi;
  let doc: Json;
  beforeAll(async () => {
    // With the dashboard on, so the walk also meets a router mounted under a path.
    t = await startTestApi({ OPS_TOKEN: 'ops-token-for-the-route-walk' });
    doc = (await t.call('GET', '/openapi.json')).body as Json;
  });
  afterAll(async () => {
    await t?.close();
  });

  it('when callback_url is not a URL, then the render is a 400 naming /callback_url, not a 500', async () => {
    const owner = await t.signIn('contract@openapi.example.com');
    for (const callback_url of ['not a url', 'ftp://example.com/x', '', 'http://']) {
      const r = await t.call('POST', '/v1/renders', {
        token: owner.access_token,
        body: { ...readFixture('render-short'), callback_url },
      });
      expect(r.status, callback_url).toBe(400);
      expect((r.body.errors as Array<{ path: string }>).map((e) => e.path)).toContain('/callback_url');
    }
  });

  it('when GET /openapi.json is validated, then it is a valid OpenAPI 3.1 document', async () => {
    const validator = new Validator();
    const result = await validator.validate(structuredClone(doc));
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
  });

  it('when the Express app is walked, then every mounted route is documented and every documented route is mounted', () => {
    const mounted = mountedRoutes(createApp(t.api.deps));
    const documented = documentedRoutes(doc);
    expect(
      mounted.filter((r) => !documented.includes(r)),
      'mounted but not documented',
    ).toEqual([]);
    expect(
      documented.filter((r) => !mounted.includes(r)),
      'documented but not mounted',
    ).toEqual([]);
    expect(mounted.length).toBeGreaterThan(40);
  });

  it('when a route is added outside the registry, then the walk finds it undocumented', () => {
    const app = createApp(t.api.deps);
    app.get('/v1/sneaky', (_req, res) => {
      res.end();
    });
    expect(mountedRoutes(app)).toContain('GET /v1/sneaky');
    expect(documentedRoutes(doc)).not.toContain('GET /v1/sneaky');
  });

  it('when operations are read, then each has a unique operationId, a summary, security and examples of its inputs', () => {
    const ids = new Set<string>();
    for (const [path, item] of Object.entries(doc.paths as Record<string, Record<string, Json>>)) {
      for (const [method, op] of Object.entries(item)) {
        const where = `${method} ${path}`;
        expect(typeof op.operationId, where).toBe('string');
        expect(ids.has(op.operationId as string), `${where} repeats ${op.operationId}`).toBe(false);
        ids.add(op.operationId as string);
        expect(String(op.summary ?? '').length, where).toBeGreaterThan(5);
        expect(Array.isArray(op.security), where).toBe(true);
        const body = (op.requestBody as { content?: Record<string, Json> } | undefined)?.content;
        for (const media of Object.values(body ?? {}))
          expect(media.example, `${where} body example`).toBeDefined();
        const query = ((op.parameters as Json[] | undefined) ?? []).filter((p) => p.in === 'query');
        if (query.length > 0) {
          expect(
            query.some((p) => p.example !== undefined),
            `${where} query example`,
          ).toBe(true);
        }
        for (const [status, r] of Object.entries(op.responses as Record<string, Json>)) {
          // /readyz's 503 is its own JSON (load balancers read it), not an error of the caller.
          if (Number(status) >= 400 && op.operationId !== 'getReadiness') {
            expect(Object.keys((r.content as Json) ?? {}), `${where} ${status}`).toEqual([
              'application/problem+json',
            ]);
          }
        }
      }
    }
    const schemes = (doc.components as { securitySchemes: Json }).securitySchemes;
    expect(Object.keys(schemes)).toEqual(expect.arrayContaining(['accessToken', 'apiKey']));
  });

  it('when an answer drifts from its schema or status, then the harness check throws', () => {
    expect(() =>
      t.contract.check({
        method: 'GET',
        path: '/healthz',
        status: 200,
        contentType: 'application/json',
        text: '{"status":"ok","extra":1}',
      }),
    ).toThrow(/drifts/);
    expect(() =>
      t.contract.check({ method: 'GET', path: '/healthz', status: 418, contentType: null, text: '' }),
    ).toThrow(/not a documented status/);
    expect(
      t.contract.check({
        method: 'GET',
        path: '/healthz',
        status: 200,
        contentType: 'application/json',
        text: '{"status":"ok"}',
      }),
    ).toBe('getHealth');
  });
});
