import { createServer } from 'node:http';
import express from 'express';

/**
 * The trivial servers `npm run bench:submit` measures its ceiling against:
 * `node --import tsx load/bench-submit-ceiling-server.ts <http|express> <port>`, answering with
 * the body (BENCH_CEILING_BODY_BASE64) and content type (BENCH_CEILING_CONTENT_TYPE) of one real
 * `POST /v1/renders` 202.
 *
 * Why: on a 2-core machine the load generator and the server share the cores, so the API's
 * accepted/s alone does not say how far it is from what this machine and this client can do at
 * all. These servers do no work beyond HTTP — `http` reads the request body and answers, with no
 * routing; `express` adds the repo's Express and `express.json({ limit: '1mb' })` as the API's
 * /v1 routes use it — so their rate, driven by the same client code at the same concurrency, is
 * the ceiling any handler could reach here. Each runs in a process of its own, as the API does.
 */
const [kind, portArg] = process.argv.slice(2);
const port = Number(portArg);
const body = Buffer.from(process.env.BENCH_CEILING_BODY_BASE64 ?? '', 'base64');
const contentType = process.env.BENCH_CEILING_CONTENT_TYPE;
if ((kind !== 'http' && kind !== 'express') || !Number.isInteger(port) || !contentType || !body.length) {
  console.error(
    'usage: BENCH_CEILING_BODY_BASE64=… BENCH_CEILING_CONTENT_TYPE=… bench-submit-ceiling-server.ts <http|express> <port>',
  );
  process.exit(1);
}

if (kind === 'http') {
  createServer((req, res) => {
    // Read the whole body, as a real handler must before it can answer.
    req.on('data', () => {});
    req.on('end', () => {
      res.writeHead(202, { 'content-type': contentType, 'content-length': body.length });
      res.end(body);
    });
  }).listen(port, '127.0.0.1');
} else {
  const app = express();
  // As the API does (api/app.ts), so the response headers are not one longer than its own.
  app.disable('x-powered-by');
  app.get('/healthz', (_req, res) => {
    res.sendStatus(200);
  });
  app.post('/v1/renders', express.json({ limit: '1mb' }), (_req, res) => {
    res.status(202).type(contentType).send(body);
  });
  app.listen(port, '127.0.0.1');
}
