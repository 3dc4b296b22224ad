// A client app as a user of the published package writes it: only `@rendermill/sdk` and
// `standardwebhooks` from its own node_modules. Run by sdk/test/pack.e2e.test.ts; prints one JSON line.
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import { Rendermill } from '@rendermill/sdk';
import { Webhook } from 'standardwebhooks';

const { RENDERMILL_API_KEY, RENDERMILL_BASE_URL, SCENES, OUTPUT, WEBHOOK_SECRET } = process.env;

// Where the render's callback arrives.
let resolveCallback;
const callback = new Promise((r) => {
  resolveCallback = r;
});
const receiver = http.createServer((req, res) => {
  let body = '';
  req.on('data', (c) => {
    body += c;
  });
  req.on('end', () => {
    res.end('ok');
    resolveCallback({ body, headers: req.headers });
  });
});
await new Promise((r) => receiver.listen(0, '127.0.0.1', r));

const rm = new Rendermill({ apiKey: RENDERMILL_API_KEY, baseUrl: RENDERMILL_BASE_URL });
const spec = JSON.parse(await readFile(SCENES, 'utf8'));
spec.callback_url = `http://127.0.0.1:${receiver.address().port}/hooks`;

const progress = [];
const job = await rm.renders.create(spec).wait({
  onProgress: (p, info) => progress.push({ p, type: info.event?.type ?? null, step: info.step ?? null }),
});
const file = await rm.jobs.download(job.id, { to: OUTPUT });

const hook = await callback;
receiver.close();
const event = await rm.webhooks.verify(hook.body, hook.headers, WEBHOOK_SECRET);
const viaLibrary = new Webhook(WEBHOOK_SECRET).verify(hook.body, {
  'webhook-id': hook.headers['webhook-id'],
  'webhook-timestamp': hook.headers['webhook-timestamp'],
  'webhook-signature': hook.headers['webhook-signature'],
});
let tamperedRefused = false;
try {
  await rm.webhooks.verify(`${hook.body} `, hook.headers, WEBHOOK_SECRET);
} catch {
  tamperedRefused = true;
}

console.log(
  JSON.stringify({
    job: { id: job.id, status: job.status },
    progress,
    download: { path: file.path, bytes: file.bytes, contentType: file.contentType },
    callback: {
      sdk: { type: event.type, jobId: event.data.job.id },
      library: { type: viaLibrary.type, jobId: viaLibrary.data.job.id },
      tamperedRefused,
    },
  }),
);
