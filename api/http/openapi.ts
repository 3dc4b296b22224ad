import { z } from 'zod/v4';
import { problemSchema } from './contract-schemas.ts';
import { errorStatuses, type Operation, openApiPath, pathParams } from './operation.ts';

type Json = Record<string, unknown>;

const ERROR_TEXT: Record<number, string> = {
  400: 'Invalid input: `errors[].path` names each field (validation_failed)',
  401: 'Missing, invalid or ended credentials (unauthenticated)',
  402: 'Over a hard quota (quota_exceeded)',
  403: 'The role, the credential kind or the plan does not allow this (forbidden, upgrade_required)',
  404: 'No such resource in your tenant (not_found)',
  409: 'Conflicts with the current state (conflict)',
  413: 'Body larger than 1 MB (payload_too_large)',
  422: 'Well-formed but refused (validation_failed)',
  429: 'Rate limited; see Retry-After (rate_limited)',
  503: 'A dependency is unavailable; see Retry-After (unavailable, database_unavailable)',
};

/** Every 429 and 503 says when to try again (RateLimitedError, UnavailableError, DatabaseUnavailableError). */
const RETRY_AFTER = {
  'Retry-After': {
    description: 'Seconds to wait before sending the request again',
    schema: { type: 'string' },
  },
};

/** JSON Schema 2020-12 (the dialect of OpenAPI 3.1) of a zod schema, as the client sends (`input`) or receives it. */
export function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): Json {
  const { $schema: _drop, ...rest } = z.toJSONSchema(schema, {
    io,
    target: 'draft-2020-12',
    unrepresentable: 'any',
  }) as Json;
  return rest;
}

function parameters(op: Operation): Json[] {
  const out: Json[] = [];
  const add = (where: 'path' | 'query' | 'header', schema: z.ZodType, examples?: Record<string, string>) => {
    const js = jsonSchema(schema, 'input') as { properties?: Record<string, Json>; required?: string[] };
    for (const [name, s] of Object.entries(js.properties ?? {})) {
      const { description, ...rest } = s as Json & { description?: string };
      out.push({
        name,
        in: where,
        required: where === 'path' || (js.required ?? []).includes(name),
        schema: rest,
        ...(description ? { description } : {}),
        ...(examples?.[name] !== undefined ? { example: examples[name] } : {}),
      });
    }
  };
  if (op.params) add('path', op.params);
  else if (pathParams(op.path).length > 0) {
    add('path', z.object(Object.fromEntries(pathParams(op.path).map((p) => [p, z.string()]))));
  }
  if (op.query) add('query', op.query, op.queryExample);
  if (op.headers) add('header', op.headers, op.headersExample);
  return out;
}

function requestBody(op: Operation): Json | undefined {
  if (!op.body) return undefined;
  const schema = jsonSchema(op.body, 'input');
  const media = (type: string) => ({
    [type]: { schema, ...(op.bodyExample !== undefined ? { example: op.bodyExample } : {}) },
  });
  return {
    required: true,
    content: {
      ...media('application/json'),
      ...(op.bodyEncoding === 'json-or-form' ? media('application/x-www-form-urlencoded') : {}),
    },
  };
}

function responses(op: Operation): Json {
  const out: Json = {};
  for (const [status, spec] of Object.entries(op.responses)) {
    if (!spec) continue;
    const type = spec.contentType ?? 'application/json';
    out[status] = {
      description: spec.description,
      ...(spec.headers
        ? {
            headers: Object.fromEntries(
              Object.entries(spec.headers).map(([h, d]) => [
                h,
                { description: d, schema: { type: 'string' } },
              ]),
            ),
          }
        : {}),
      ...(spec.body
        ? {
            content: {
              [type]: {
                schema: jsonSchema(spec.body, 'output'),
                ...(spec.example !== undefined ? { example: spec.example } : {}),
              },
            },
          }
        : {}),
    };
  }
  for (const status of errorStatuses(op)) {
    if (out[status]) continue;
    out[status] = {
      description: ERROR_TEXT[status] ?? 'Error',
      ...(status === 429 || status === 503 ? { headers: RETRY_AFTER } : {}),
      content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
    };
  }
  return out;
}

function security(op: Operation): Json[] {
  if (op.auth === 'bearer') return [{ accessToken: [] }, { apiKey: [] }];
  if (op.auth === 'user') return [{ accessToken: [] }];
  if (op.auth === 'stripe') return [{ stripeSignature: [] }];
  return [];
}

function description(op: Operation): string {
  const who =
    op.auth === 'bearer' || op.auth === 'user'
      ? `Role: ${op.role ?? 'viewer'} or above${op.auth === 'user' ? '; a user session (API keys get 403)' : ''}.`
      : op.auth === 'signed-url'
        ? 'No token: the signed query string is the credential.'
        : op.auth === 'stripe'
          ? 'Called by Stripe; the Stripe-Signature header is verified over the raw body.'
          : 'No credentials.';
  return op.description ? `${op.description}\n\n${who}` : who;
}

/** The OpenAPI 3.1 document of the operations, served at `GET /openapi.json`. */
export function buildOpenApiDocument(operations: readonly Operation[], serverUrl: string): Json {
  const paths: Record<string, Json> = {};
  const tags = new Set<string>();
  for (const op of operations) {
    tags.add(op.tag);
    const key = openApiPath(op.path);
    const item = paths[key] ?? {};
    paths[key] = item;
    const params = parameters(op);
    const body = requestBody(op);
    item[op.method] = {
      operationId: op.operationId,
      summary: op.summary,
      description: description(op),
      tags: [op.tag],
      security: security(op),
      ...(op.role && (op.auth === 'bearer' || op.auth === 'user') ? { 'x-min-role': op.role } : {}),
      ...(params.length > 0 ? { parameters: params } : {}),
      ...(body ? { requestBody: body } : {}),
      responses: responses(op),
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Rendermill API',
      version: '1',
      description:
        'Narrated MP4 renders, speech and title cards as metered jobs. Errors are application/problem+json (RFC 9457) with a `code`, the `request_id` and, for invalid input, `errors[].path` (a JSON pointer into the body or query; `/headers/<Name>` for a header).',
    },
    servers: [{ url: serverUrl }],
    tags: [...tags].map((name) => ({ name })),
    paths,
    components: {
      schemas: { Problem: jsonSchema(problemSchema, 'output') },
      securitySchemes: {
        accessToken: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description: 'Access token from POST /v1/auth/verify or /v1/auth/refresh',
        },
        apiKey: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'rm_live_…',
          description: 'API key from POST /v1/api-keys, sent as a bearer token',
        },
        stripeSignature: { type: 'apiKey', in: 'header', name: 'Stripe-Signature' },
      },
    },
  };
}
