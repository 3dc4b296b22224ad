import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { QueueEvents } from 'bullmq';
import { start as startApi } from '../api/main.ts';
import { newId } from '../shared/ids/ids.ts';
import type { JobStepRow } from '../shared/jobs/job-contract.ts';
import { type RenderRequest, renderRequestSchema, renderSize } from '../shared/jobs/job-requests.ts';
import { createProducer } from '../shared/queue/producer.ts';
import { bullPrefix } from '../shared/queue/queues.ts';
import { createRedis } from '../shared/redis/redis.ts';
import { createLocalStorage } from '../shared/storage/local-storage.ts';
import { insertApiKey } from '../shared/testing/tenant-fixture.ts';
import { measureSsim } from '../workers/media/media-checks.ts';
import { runProcess } from '../workers/media/run-process.ts';
import { singlePassArgs } from '../workers/media/single-pass.ts';
import { sceneDurations } from '../workers/tasks/render/compose-step.ts';
import type { SceneImagesResult } from '../workers/tasks/render/images-step.ts';
import type { NarrationResult } from '../workers/tasks/render/tts-step.ts';
import { createBenchEnv } from './bench-env.ts';

/**
 * `npm run bench:render`: every figure of the render engine in one run, each against a baseline
 * measured in the same run on the same machine.
 *
 * 1. The sample (load/fixtures/render-minute.json: 10 scenes, 1080p, 80.9 s) through the whole
 *    pipeline — POST /v1/renders over HTTP to `succeeded` — against today's single-pass ffmpeg
 *    command on the same images and audio: wall ratio, realtime factor, SSIM mean/min, size ratio.
 * 2. The long spec (load/fixtures/render-long.json: 50 scenes, 1080p, ~10 min) with 1 worker process
 *    pinned to core 0 (`taskset -c 0`) against 2 worker processes pinned to cores 0 and 1.
 * 3. The long spec again with one scene's text changed, against its first render: the wall ratio.
 *
 * Workers are separate processes (`shared/process/run.ts workers/main.ts`, as `npm run start:worker`);
 * each round uses a fresh tenant, so its caches start empty. BENCH_ROUNDS (3) rounds of the
 * sample, BENCH_LONG_ROUNDS (1) of the long spec; medians are printed with every run.
 * Each worker process consumes `render` and `segments` at concurrency 1: a render of
 * RENDER_FANOUT_MIN_SCENES scenes or more fans its segments out, so with 2 workers both take them.
 * BENCH_PARTS (`1,2,3`) picks the parts to run; BENCH_LONG_FIXTURE (`render-long`) the spec of parts
 * 2 and 3 (`render-minute` on a machine too loaded for the 10-minute one).
 */
const ROOT = path.resolve(import.meta.dirname, '..');
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const LONG_ROUNDS = Number(process.env.BENCH_LONG_ROUNDS ?? 1);
const PARTS = new Set((process.env.BENCH_PARTS ?? '1,2,3').split(',').map((p) => p.trim()));
const LONG_FIXTURE = process.env.BENCH_LONG_FIXTURE ?? 'render-long';
const fixture = (name: string): RenderRequest =>
  renderRequestSchema.parse(
    JSON.parse(readFileSync(path.join(ROOT, 'load/fixtures', `${name}.json`), 'utf8')),
  );
const sample = fixture('render-minute');
const long = fixture(LONG_FIXTURE);
const EDIT_AT = Math.min(24, Math.floor(long.scenes.length / 2));

const env = await createBenchEnv({
  WORKER_QUEUES: 'render,segments',
  WORKER_CONCURRENCY: '1',
  RATE_LIMIT_PER_MINUTE: '10000000',
  RATE_LIMIT_BURST_PER_SECOND: '10000000',
});
const api = await startApi(env.config);
const storage = createLocalStorage(env.config.STORAGE_DIR);
const connection = createRedis(env.config.redisTarget);
const producer = createProducer(connection, env.config.REDIS_PREFIX);
const events = new QueueEvents('render', {
  connection: createRedis(env.config.redisTarget),
  prefix: bullPrefix(env.config.REDIS_PREFIX),
});
await events.waitUntilReady();
const tmp = await mkdtemp(path.join(os.tmpdir(), 'rendermill-bench-render-'));

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const secs = (xs: number[]) => xs.map((x) => x.toFixed(2)).join(', ');

/** Worker processes, optionally pinned to one core each; resolves once BullMQ sees them all. */
async function startWorkers(cores: Array<number | null>): Promise<ChildProcess[]> {
  const children = cores.map((core) => {
    const node = [process.execPath, '--import', 'tsx', 'shared/process/run.ts', 'workers/main.ts'];
    const [cmd, ...args] = core === null ? node : ['taskset', '-c', String(core), ...node];
    const child = spawn(cmd!, args, {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env.vars },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    return child;
  });
  const deadline = Date.now() + 300_000;
  while ((await producer.queue('render').getWorkers()).length < children.length) {
    if (Date.now() > deadline) throw new Error('workers did not connect within 5 min');
    await new Promise((r) => setTimeout(r, 200));
  }
  return children;
}

async function stopWorkers(children: ChildProcess[]): Promise<void> {
  await Promise.all(
    children.map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.exitCode !== null || c.signalCode !== null) return resolve();
          c.once('exit', () => resolve());
          c.kill('SIGTERM');
        }),
    ),
  );
}

async function newTenant(): Promise<{ id: string; key: string }> {
  const id = newId('ten');
  const key = `rm_live_bench${newId('key').slice(4)}`;
  await env.db('tenants').insert({ id, name: 'Bench', plan: 'enterprise', webhook_secret: 'whsec_bench' });
  await insertApiKey(env.db, { tenantId: id, key, name: 'bench' });
  return { id, key };
}

/** POST /v1/renders → succeeded; wall seconds, the job row and its steps. */
async function render(tenant: { key: string }, request: RenderRequest) {
  const t0 = performance.now();
  const res = await fetch(`${api.url}/v1/renders`, {
    method: 'POST',
    headers: { authorization: `Bearer ${tenant.key}`, 'content-type': 'application/json' },
    body: JSON.stringify(request),
  });
  if (res.status !== 202) throw new Error(`POST /v1/renders answered ${res.status}: ${await res.text()}`);
  const { id } = (await res.json()) as { id: string };
  // Wait on BullMQ's completion event, not by polling: a poll loop would compete for the cores.
  // With fair share on, the job reaches BullMQ when a worker's dispatcher moves it there.
  let bullJob = await producer.queue('render').getJob(id);
  while (!bullJob) {
    await new Promise((r) => setTimeout(r, 100));
    bullJob = await producer.queue('render').getJob(id);
  }
  await bullJob.waitUntilFinished(events).catch(() => undefined);
  const check = await fetch(`${api.url}/v1/jobs/${id}`, {
    headers: { authorization: `Bearer ${tenant.key}` },
  });
  const job = (await check.json()) as {
    status: string;
    error: unknown;
    output: { duration_seconds: number };
  };
  const wall = (performance.now() - t0) / 1000;
  if (job.status !== 'succeeded') throw new Error(`render ${job.status}: ${JSON.stringify(job.error)}`);
  const steps = await env.db('job_steps').where({ job_id: id }).orderBy(['position', 'name']);
  const row = await env.db('jobs').where({ id }).first();
  if (!row?.output_key) throw new Error(`render ${id} succeeded without an output`);
  return { id, wall, videoSeconds: job.output.duration_seconds, steps, outputKey: row.output_key };
}

function stepTimes(steps: JobStepRow[]): string {
  const t = (s: JobStepRow) =>
    ((new Date(String(s.finished_at)).getTime() - new Date(String(s.started_at)).getTime()) / 1000).toFixed(
      2,
    );
  return steps
    .filter((s) => !String(s.name).startsWith('segment-'))
    .map((s) => `${s.name} ${t(s)} s`)
    .join(', ');
}

/** Today's single-pass command on the images and audio the pipeline used; wall seconds and file. */
async function singlePass(request: RenderRequest, steps: JobStepRow[], name: string) {
  const results = Object.fromEntries(steps.map((s) => [s.name, s.result]));
  const narration = results.tts as NarrationResult;
  const images = results.images as SceneImagesResult;
  const durations = sceneDurations(request, narration);
  const scenes = await Promise.all(
    request.scenes.map(async (_s, i) => {
      const imagePath = path.join(tmp, `${name}-${i}.png`);
      await storage.download(images.images[i]!.imageKey, imagePath);
      const a = narration.scenes[i];
      const audioPath = a ? path.join(tmp, `${name}-${i}.wav`) : undefined;
      if (a && audioPath) await storage.download(a.audioKey, audioPath);
      return { imagePath, audioPath, durationSeconds: durations[i]! };
    }),
  );
  const [width, height] = renderSize(request);
  const outPath = path.join(tmp, `${name}-single.mp4`);
  const t0 = performance.now();
  await runProcess('ffmpeg', singlePassArgs({ scenes, width, height, fps: request.fps, outPath }));
  return { wall: (performance.now() - t0) / 1000, outPath };
}

const children: ChildProcess[] = [];
try {
  console.log(
    `bench:render on ${os.availableParallelism()} cores, load average ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
  );

  if (PARTS.has('1')) {
    // 1. The sample, end to end over HTTP, against the single-pass command.
    children.push(...(await startWorkers([null])));
    const pipeline: number[] = [];
    const direct: number[] = [];
    const ssimMeans: number[] = [];
    const ssimMins: number[] = [];
    const sizes: number[] = [];
    let videoSeconds = 0;
    let last = '';
    for (let round = 0; round < ROUNDS; round++) {
      const r = await render(await newTenant(), sample);
      pipeline.push(r.wall);
      videoSeconds = r.videoSeconds;
      last = stepTimes(r.steps);
      const base = await singlePass(sample, r.steps, `sample${round}`);
      direct.push(base.wall);
      const out = storage.localPath(r.outputKey)!;
      const ssim = await measureSsim(out, base.outPath);
      ssimMeans.push(ssim.mean);
      ssimMins.push(ssim.min);
      sizes.push((await stat(out)).size / (await stat(base.outPath)).size);
    }
    await stopWorkers(children.splice(0));
    const p = median(pipeline);
    const d = median(direct);
    console.log(
      `\n1. sample: render-minute.json (${sample.scenes.length} scenes, ${sample.resolution}, ${sample.fps} fps), ${ROUNDS} rounds, 1 worker (unpinned)`,
    );
    console.log(`video length          ${videoSeconds.toFixed(2)} s`);
    console.log(`pipeline wall (HTTP)  median ${p.toFixed(2)} s  (runs: ${secs(pipeline)}; last: ${last})`);
    console.log(`single-pass ffmpeg    median ${d.toFixed(2)} s  (runs: ${secs(direct)})`);
    console.log(`wall ratio            ${(p / d).toFixed(3)}× single pass`);
    console.log(`realtime factor       ${(videoSeconds / p).toFixed(2)}× realtime (target ≥ 30)`);
    console.log(
      `SSIM vs single pass   mean ${Math.min(...ssimMeans).toFixed(4)}  min ${Math.min(...ssimMins).toFixed(4)} (worst over runs; targets ≥ 0.99 / ≥ 0.97)`,
    );
    console.log(
      `size ratio            ${Math.max(...sizes).toFixed(3)}× single pass (largest over runs; target ≤ 1.5)`,
    );
  }

  if (PARTS.has('2')) {
    // 2. and 3. The long spec: 1 pinned worker, then 2 pinned workers, then a one-scene edit.
    const edited: RenderRequest = {
      ...long,
      scenes: long.scenes.map((s, i) =>
        i === EDIT_AT ? { ...s, text: `${s.text} This part was edited.` } : s,
      ),
    };
    const one: number[] = [];
    const two: number[] = [];
    const edits: number[] = [];
    let longSeconds = 0;
    let lastOne = '';
    let lastTwo = '';
    let lastEdit = '';
    let hits = '';
    let fannedOut = '';
    for (let round = 0; round < LONG_ROUNDS; round++) {
      children.push(...(await startWorkers([0])));
      const r1 = await render(await newTenant(), long);
      await stopWorkers(children.splice(0));
      one.push(r1.wall);
      lastOne = stepTimes(r1.steps);
      longSeconds = r1.videoSeconds;

      children.push(...(await startWorkers([0, 1])));
      const tenant = await newTenant();
      const r2 = await render(tenant, long);
      two.push(r2.wall);
      lastTwo = stepTimes(r2.steps);
      fannedOut = `${(await (await producer.queue('render').getJob(r2.id))!.getDependenciesCount()).processed ?? 0}/${long.scenes.length} segments by render.segment children`;
      if (PARTS.has('3')) {
        const r3 = await render(tenant, edited);
        edits.push(r3.wall / r2.wall);
        lastEdit = `${r3.wall.toFixed(2)} s: ${stepTimes(r3.steps)}`;
        const segs = r3.steps.filter((s) => String(s.name).startsWith('segment-'));
        hits = `${segs.filter((s) => s.cache_hit).length}/${segs.length} segments from the cache`;
      }
      await stopWorkers(children.splice(0));
    }
    console.log(
      `\n2. long: ${LONG_FIXTURE}.json (${long.scenes.length} scenes, ${long.resolution}, ${longSeconds.toFixed(1)} s), ${LONG_ROUNDS} round(s)`,
    );
    console.log(
      `1 worker on core 0    median ${median(one).toFixed(2)} s  (runs: ${secs(one)}; last: ${lastOne})`,
    );
    console.log(
      `2 workers, cores 0+1  median ${median(two).toFixed(2)} s  (runs: ${secs(two)}; last: ${lastTwo})`,
    );
    console.log(
      `speed-up              ${(median(one) / median(two)).toFixed(2)}× (target ≥ 1.7; ${fannedOut})`,
    );
    if (PARTS.has('3')) {
      console.log(`\n3. one scene edited (scene ${EDIT_AT + 1}'s text), same tenant, 2 workers`);
      console.log(
        `edit / first render   median ${median(edits).toFixed(3)}× (runs: ${edits.map((e) => e.toFixed(3)).join(', ')}; last: ${lastEdit}; ${hits}) (target ≤ 0.15)`,
      );
    }
  }

  console.log(
    `\nload average at the end ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
  );
} finally {
  await stopWorkers(children);
  await events.close();
  await api.stop();
  await producer.close();
  connection.disconnect();
  await rm(tmp, { recursive: true, force: true });
  await env.close();
}
