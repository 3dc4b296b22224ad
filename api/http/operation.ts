import type { Request, Response } from 'express';
import type { z } from 'zod/v4';
import type { Role } from '../../shared/auth/roles.ts';

export type HttpMethod = 'get' | 'post' | 'put' | 'patch' | 'delete';

/**
 * How a caller proves who it is.
 * - `public`: nothing (sign-in, plans, ops probes, the docs).
 * - `bearer`: `Authorization: Bearer <access token | API key>`.
 * - `user`: an access token only; the operation acts as a person (API keys get 403).
 * - `stripe`: a `Stripe-Signature` over the raw body.
 * - `signed-url`: an HMAC-signed query string (downloads).
 */
export type AuthKind = 'public' | 'bearer' | 'user' | 'stripe' | 'signed-url';

export interface ResponseSpec {
  description: string;
  /** Schema of the body (JSON unless `contentType` says otherwise); omitted = no body. */
  body?: z.ZodType;
  /** Default `application/json`. */
  contentType?: string;
  headers?: Record<string, string>;
  example?: unknown;
}

/** Statuses an operation answers beyond the ones derived from its declaration (see `errorStatuses`). */
export type ErrorStatus = 400 | 401 | 402 | 403 | 404 | 409 | 413 | 422 | 429 | 503;

export interface OperationInput<P, Q, H, B> {
  params: P;
  query: Q;
  headers: H;
  body: B;
}

type Out<S> = S extends z.ZodType ? z.output<S> : undefined;

/**
 * One operation of the public API, declared once: the Express route, request validation and the
 * OpenAPI document all come from it (`api/http/route-registry.ts`, `api/http/openapi.ts`).
 */
export interface OperationSpec<
  P extends z.ZodType | undefined = undefined,
  Q extends z.ZodType | undefined = undefined,
  H extends z.ZodType | undefined = undefined,
  B extends z.ZodType | undefined = undefined,
> {
  operationId: string;
  method: HttpMethod;
  /** Express syntax (`/v1/jobs/:id`); the document writes `{id}`. */
  path: string;
  summary: string;
  description?: string;
  tag: string;
  auth: AuthKind;
  /** Lowest role allowed (bearer/user operations). Default `viewer`. */
  role?: Role;
  params?: P;
  query?: Q;
  /** Keys are header names as documented (`Idempotency-Key`); values are read case-insensitively. */
  headers?: H;
  body?: B;
  /**
   * `json` (default), `json-or-form` (also `application/x-www-form-urlencoded`), or `raw`: the
   * handler gets the bytes (`req.body` is a Buffer) and `body` only documents them.
   */
  bodyEncoding?: 'json' | 'json-or-form' | 'raw';
  /** A valid request body (shown in the docs, and the seed of the contract tests). */
  bodyExample?: unknown;
  /** A valid query (contract tests; docs show it as parameter examples). */
  queryExample?: Record<string, string>;
  headersExample?: Record<string, string>;
  /** Success answers (2xx/3xx). Error answers are problem+json: derived, plus `errors`. */
  responses: Partial<Record<200 | 201 | 202 | 204 | 302 | 503, ResponseSpec>>;
  errors?: readonly ErrorStatus[];
  handler(
    input: OperationInput<Out<P>, Out<Q>, Out<H>, Out<B>>,
    req: Request,
    res: Response,
  ): Promise<void> | void;
}

/** An operation with its types erased, as the registry holds it. */
// biome-ignore lint/suspicious/noExplicitAny: the registry stores operations of every input type
export type Operation = OperationSpec<any, any, any, any>;

/** Declares an operation; the handler's input is typed from the schemas. */
export function defineOperation<
  P extends z.ZodType | undefined = undefined,
  Q extends z.ZodType | undefined = undefined,
  H extends z.ZodType | undefined = undefined,
  B extends z.ZodType | undefined = undefined,
>(spec: OperationSpec<P, Q, H, B>): Operation {
  return spec as Operation;
}

/** `/v1/jobs/:id` → `/v1/jobs/{id}`. */
export function openApiPath(path: string): string {
  return path.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

/** Names of the path parameters, in order. */
export function pathParams(path: string): string[] {
  return [...path.matchAll(/:([A-Za-z0-9_]+)/g)].map((m) => m[1]!);
}

/** Whether callers authenticate with a bearer credential (and so pass the rate limits). */
export function usesBearer(op: Operation): boolean {
  return op.auth === 'bearer' || op.auth === 'user';
}

/**
 * Every error status an operation can answer: the ones its declaration implies (validation,
 * credentials, role, ids in the path, rate limits) plus its own `errors`.
 */
export function errorStatuses(op: Operation): number[] {
  const s = new Set<number>(op.errors ?? []);
  const parsesBody = op.method !== 'get';
  if (op.params || op.query || op.headers || op.body || parsesBody) s.add(400);
  if (parsesBody) s.add(413);
  if (usesBearer(op)) {
    s.add(401);
    s.add(429); // per-principal limits
    s.add(503); // the rate limiter's Redis or Postgres does not answer (database_unavailable)
    if (op.auth === 'user' || (op.role ?? 'viewer') !== 'viewer') s.add(403);
  }
  if (pathParams(op.path).length > 0) s.add(404);
  return [...s].sort((a, b) => a - b);
}
