import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { renderRequestSchema } from '../shared/jobs/job-requests.ts';
import { createProducer } from '../shared/queue/producer.ts';
import { createRedis } from '../shared/redis/redis.ts';
import { createBenchEnv } from './bench-env.ts';
import { processTreeRss } from './process-rss.ts';

/**
 * `npm run bench:memory`: the memory one render takes, to size the Kubernetes requests and
 * limits. Starts a real worker process (the same entry as the image, WORKER_CONCURRENCY=1),
 * lets it settle, then renders load/fixtures/render-minute.json (1080p) while sampling the RSS
 * of the worker and every descendant (ffmpeg, espeak-ng) from /proc every 100 ms.
 */
const ROOT = path.resolve(import.meta.dirname, '..');
const fixturePath = process.argv[2] ?? path.join(ROOT, 'load/fixtures/render-minute.json');
const request = renderRequestSchema.parse(JSON.parse(readFileSync(fixturePath, 'utf8')));
const env = await createBenchEnv({ WORKER_QUEUES: 'render,media', WORKER_CONCURRENCY: '1' });
const vars = Object.fromEntries(
  Object.entries({
    ...process.env,
    DATABASE_URL: env.config.DATABASE_URL,
    REDIS_URL: env.config.REDIS_URL,
    REDIS_PREFIX: env.config.REDIS_PREFIX,
    STORAGE_DIR: env.config.STORAGE_DIR,
    DEV_OUTBOX_DIR: env.config.DEV_OUTBOX_DIR,
    METRICS_PORT: '0',
    LOG_LEVEL: 'silent',
    NODE_ENV: 'test',
    SCHEDULER_ENABLED: 'false',
    WORKER_QUEUES: 'render,media',
    WORKER_CONCURRENCY: '1',
  }).filter((e): e is [string, string] => typeof e[1] === 'string'),
);
const child = spawn(process.execPath, ['--import', 'tsx', 'shared/process/run.ts', 'workers/main.ts'], {
  cwd: ROOT,
  env: vars,
  stdio: 'ignore',
});
const connection = createRedis(env.config.REDIS_URL);
const producer = createProducer(connection, env.config.REDIS_PREFIX);
const mib = (kb: number) => `${(kb / 1024).toFixed(0)} MiB`;
try {
  await new Promise((r) => setTimeout(r, 5_000));
  const idle = processTreeRss(child.pid!);
  const rounds = Number(process.env.BENCH_ROUNDS ?? 2);
  let peakWorker = idle.self;
  let peakChildren = 0;
  let peakTotal = idle.total;
  for (let round = 0; round < rounds; round++) {
    const tenant = `ten_mem${round}`;
    const jobId = `job_mem${round}`;
    await env.db('tenants').insert({ id: tenant, name: 'Bench', webhook_secret: 'whsec_bench' });
    await env
      .db('jobs')
      .insert({ id: jobId, tenant_id: tenant, kind: 'render', payload: JSON.stringify(request) });
    await producer.enqueueJob({ id: jobId, tenant_id: tenant, kind: 'render' });
    for (;;) {
      const s = processTreeRss(child.pid!);
      peakWorker = Math.max(peakWorker, s.self);
      peakChildren = Math.max(peakChildren, s.total - s.self);
      peakTotal = Math.max(peakTotal, s.total);
      const job = await env.db('jobs').where({ id: jobId }).first('status', 'error_message');
      if (!job) throw new Error(`job ${jobId} vanished`);
      if (job.status === 'failed') throw new Error(`render failed: ${job.error_message}`);
      if (job.status === 'succeeded') break;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  console.log(
    `fixture                 ${path.basename(fixturePath)} (${request.resolution}), ${rounds} rounds`,
  );
  console.log(`worker idle RSS         ${mib(idle.self)}`);
  console.log(`worker peak RSS         ${mib(peakWorker)}`);
  console.log(`children peak RSS       ${mib(peakChildren)} (ffmpeg / espeak-ng, summed)`);
  console.log(`process tree peak RSS   ${mib(peakTotal)} (one render at a time)`);
} finally {
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  await producer.close();
  connection.disconnect();
  await env.close();
}
