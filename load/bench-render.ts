import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { QueueEvents } from 'bullmq';
import { renderRequestSchema, renderSize } from '../shared/jobs/job-requests.ts';
import { createProducer } from '../shared/queue/producer.ts';
import { bullPrefix } from '../shared/queue/queues.ts';
import { createRedis } from '../shared/redis/redis.ts';
import { start } from '../workers/main.ts';
import { runProcess } from '../workers/media/run-process.ts';
import { singlePassArgs } from '../workers/media/single-pass.ts';
import { sceneDurations } from '../workers/tasks/render/compose-step.ts';
import type { SceneImagesResult } from '../workers/tasks/render/images-step.ts';
import type { NarrationResult } from '../workers/tasks/render/tts-step.ts';
import { createBenchEnv } from './bench-env.ts';

/**
 * `npm run bench:render`: the render pipeline against one direct ffmpeg command, same run,
 * same machine. The pipeline renders load/fixtures/render-minute.json (10 scenes, 1080p)
 * from nothing: TTS, cards, compose, storage, Postgres bookkeeping. The baseline encodes the
 * identical video from the same images and audio with one ffmpeg call. Both are timed wall-clock.
 */
const fixturePath = process.argv[2] ?? path.resolve(import.meta.dirname, 'fixtures/render-minute.json');
const request = renderRequestSchema.parse(JSON.parse(readFileSync(fixturePath, 'utf8')));
const env = await createBenchEnv({ WORKER_QUEUES: 'render', WORKER_CONCURRENCY: '1' });
const worker = await start(env.config);
const connection = createRedis(env.config.REDIS_URL);
const producer = createProducer(connection, env.config.REDIS_PREFIX);
const tmp = await mkdtemp(path.join(os.tmpdir(), 'rendermill-bench-direct-'));
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const events = new QueueEvents('render', {
  connection: createRedis(env.config.REDIS_URL),
  prefix: bullPrefix(env.config.REDIS_PREFIX),
});
await events.waitUntilReady();
try {
  const pipelineRuns: number[] = [];
  const directRuns: number[] = [];
  let videoSeconds = 0;
  let lastSteps = '';
  for (let round = 0; round < ROUNDS; round++) {
    // A fresh tenant each round: its cache is empty, so every round pays for TTS and cards.
    const tenant = `ten_bench${round}`;
    const jobId = `job_bench${round}`;
    await env.db('tenants').insert({ id: tenant, name: 'Bench', webhook_secret: 'whsec_bench' });
    await env
      .db('jobs')
      .insert({ id: jobId, tenant_id: tenant, kind: 'render', payload: JSON.stringify(request) });
    const t0 = performance.now();
    await producer.enqueueJob({ id: jobId, tenant_id: tenant, kind: 'render' });
    // Wait on BullMQ's completion event, not by polling Postgres: a poll loop would compete with
    // the encode for the same two cores and inflate the pipeline's time.
    const bullJob = await producer.queue('render').getJob(jobId);
    await bullJob!.waitUntilFinished(events).catch(() => undefined);
    const job: Record<string, unknown> = await env.db('jobs').where({ id: jobId }).first();
    pipelineRuns.push(performance.now() - t0);
    if (job.status !== 'succeeded')
      throw new Error(`render ${String(job.status)}: ${String(job.error_message)}`);
    videoSeconds = Number(job.output_duration_seconds);
    const steps = await env.db('job_steps').where({ job_id: jobId }).orderBy('position');
    lastSteps = steps
      .map(
        (s) =>
          `${s.name} ${((new Date(s.finished_at).getTime() - new Date(s.started_at).getTime()) / 1000).toFixed(2)} s`,
      )
      .join(', ');
    const results = Object.fromEntries(steps.map((s) => [s.name, s.result]));
    const narration = results.tts as NarrationResult;
    const images = results.images as SceneImagesResult;
    const durations = sceneDurations(request, narration);
    const storage = worker.services.storage;
    const scenes = await Promise.all(
      request.scenes.map(async (_s, i) => {
        const imagePath = path.join(tmp, `${round}-${i}.png`);
        await storage.download(images.images[i]!.imageKey, imagePath);
        const a = narration.scenes[i];
        const audioPath = a ? path.join(tmp, `${round}-${i}.wav`) : undefined;
        if (a && audioPath) await storage.download(a.audioKey, audioPath);
        return { imagePath, audioPath, durationSeconds: durations[i]! };
      }),
    );
    const [width, height] = renderSize(request);
    const args = singlePassArgs({
      scenes,
      width,
      height,
      fps: request.fps,
      outPath: path.join(tmp, `direct-${round}.mp4`),
    });
    const t1 = performance.now();
    await runProcess('ffmpeg', args);
    directRuns.push(performance.now() - t1);
  }
  const median = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    const m = Math.floor(s.length / 2);
    return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
  };
  const pipelineMs = median(pipelineRuns);
  const directMs = median(directRuns);
  const secs = (xs: number[]) => xs.map((x) => (x / 1000).toFixed(2)).join(', ');
  console.log(
    `fixture            ${path.basename(fixturePath)} (${request.scenes.length} scenes, ${request.resolution}, ${request.fps} fps), ${ROUNDS} rounds`,
  );
  console.log(`video length       ${videoSeconds.toFixed(2)} s`);
  console.log(
    `pipeline wall      median ${(pipelineMs / 1000).toFixed(2)} s  (runs: ${secs(pipelineRuns)}; last: ${lastSteps})`,
  );
  console.log(`direct ffmpeg wall median ${(directMs / 1000).toFixed(2)} s  (runs: ${secs(directRuns)})`);
  console.log(`ratio              ${(pipelineMs / directMs).toFixed(3)}× direct ffmpeg (target ≤ 1.10)`);
  console.log(`realtime factor    ${(videoSeconds / (pipelineMs / 1000)).toFixed(2)}× realtime (target ≥ 3)`);
} finally {
  await events.close();
  await worker.stop();
  await producer.close();
  connection.disconnect();
  await rm(tmp, { recursive: true, force: true });
  await env.close();
}
