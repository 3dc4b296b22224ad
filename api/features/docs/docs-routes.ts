import { createRequire } from 'node:module';
import path from 'node:path';
import express, { type RequestHandler } from 'express';
import { z } from 'zod/v4';
import { defineOperation, type Operation } from '../../http/operation.ts';

/** Where the API reference page's assets live: Swagger UI from node_modules, our initializer beside this file. */
export const DOCS_ASSETS_PATH = '/docs/assets';
const swaggerUiDir = path.dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
const publicDir = path.join(import.meta.dirname, 'public');

const page = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Rendermill API reference</title>
<link rel="stylesheet" href="${DOCS_ASSETS_PATH}/swagger-ui.css">
<link rel="icon" type="image/png" href="${DOCS_ASSETS_PATH}/favicon-32x32.png">
</head>
<body>
<div id="reference"></div>
<script src="${DOCS_ASSETS_PATH}/swagger-ui-bundle.js"></script>
<script src="${DOCS_ASSETS_PATH}/docs-init.js"></script>
</body>
</html>
`;

/** Static assets of `/docs` (files, not routes): served from this machine, so the page needs no CDN. */
export function docsAssets(): RequestHandler[] {
  const opts = { fallthrough: true, index: false, maxAge: '1h' } as const;
  return [express.static(publicDir, opts), express.static(swaggerUiDir, opts)];
}

/** `GET /openapi.json` (the contract, built from the registry) and `GET /docs` (its reference page). */
export function docsRoutes(deps: { document: () => Record<string, unknown> }): Operation[] {
  return [
    defineOperation({
      operationId: 'getOpenApiDocument',
      method: 'get',
      path: '/openapi.json',
      tag: 'docs',
      summary: 'This OpenAPI 3.1 document',
      auth: 'public',
      responses: {
        200: { description: 'The document', body: z.looseObject({ openapi: z.literal('3.1.0') }) },
      },
      handler: (_input, _req, res) => {
        res.setHeader('Cache-Control', 'public, max-age=60');
        res.json(deps.document());
      },
    }),
    defineOperation({
      operationId: 'getApiReference',
      method: 'get',
      path: '/docs',
      tag: 'docs',
      summary: 'The API reference page (Swagger UI, served locally)',
      auth: 'public',
      responses: { 200: { description: 'HTML page', contentType: 'text/html', body: z.string() } },
      handler: (_input, _req, res) => {
        res.type('html').send(page);
      },
    }),
  ];
}
