import { Job } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventStreamKey, readEventsAfter } from '../../../shared/events/event-stream.ts';
import { createRedis, type RedisClient } from '../../../shared/redis/redis.ts';
import { readFixture } from '../../../shared/testing/fixtures.ts';
import { present } from '../../../shared/testing/present.ts';
import { processesFor } from '../../../shared/testing/processes.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../../../shared/testing/webhook-receiver.ts';
import { stepSpan } from '../../jobs/job-runner.ts';
import { decodeErrors, videoStream } from '../../media/media-checks.ts';
import { probeMedia } from '../../media/probe.ts';
import { startTestWorker, type TestWorker } from '../../testing/worker-harness.ts';
import { renderJob } from './render-task.ts';

const fixture = readFixture('render-short') as { scenes: unknown[] } & Record<string, unknown>;
const cards = (n: number, duration: number) =>
  Array.from({ length: n }, (_, i) => ({ title: `Scene ${i + 1}`, duration, background: '#1f2937' }));

let t: TestWorker;
let redis: RedisClient;
let receiver: WebhookReceiver;
beforeAll(async () => {
  receiver = await startWebhookReceiver();
  // The short fixture has 3 scenes: at 3 it fans out, a 2-scene render does not. The webhook
  // receiver listens on 127.0.0.1.
  t = await startTestWorker({ RENDER_FANOUT_MIN_SCENES: '3', FETCH_ALLOW_PRIVATE: '127.0.0.1' });
  redis = createRedis(t.env.config.redisTarget);
});
afterAll(async () => {
  redis?.disconnect();
  await t?.close();
  await receiver?.close();
});

const parentJob = async (id: string) => (await Job.fromId(t.producer.queue('render'), id))!;
const childValues = async (id: string) =>
  Object.values(await (await parentJob(id)).getChildrenValues()).sort((a, b) =>
    String(a.segment).localeCompare(String(b.segment)),
  );

describe('render fan-out', () => {
  it('when a render has RENDER_FANOUT_MIN_SCENES scenes, then each segment is a render.segment child on the segments queue, the parent joins them, progress is monotone and usage is recorded once per step and metric', async () => {
    const tenant = await t.tenant();
    const id = await t.submit(tenant, 'render', fixture);
    const seen: number[] = [];
    const job = await t.waitFor(id, ['succeeded', 'failed'], 90_000, (j) => seen.push(j.progress));
    expect([job.status, job.error_message]).toEqual(['succeeded', null]);
    expect(seen).toEqual([...seen].sort((x, y) => x - y)); // never went backwards

    // The parent's children are the three segments, each encoded (none was cached).
    expect(await (await parentJob(id)).getIgnoredChildrenFailures()).toEqual({});
    expect(await childValues(id)).toEqual([
      { segment: 'segment-01', cacheHit: false },
      { segment: 'segment-02', cacheHit: false },
      { segment: 'segment-03', cacheHit: false },
    ]);
    const child = await Job.fromId(t.producer.queue('segments'), `${id}.segment-02`);
    expect(child?.name).toBe('render.segment');
    expect(child?.data).toEqual({ jobId: id, tenantId: tenant, index: 1 });
    expect(child?.parent?.id).toBe(id);

    const steps = await t.env.db('job_steps').where({ job_id: id }).orderBy(['position', 'name']);
    const names = ['tts', 'images', 'compose', 'segment-01', 'segment-02', 'segment-03'];
    expect(steps.map((s) => `${s.name} ${s.status} ${s.cache_hit}`)).toEqual(
      names.map((n) => `${n} succeeded false`),
    );
    // Segments report into the compose step's share of the bar, below its end.
    const { base, span } = stepSpan(renderJob, 'compose');
    expect(seen.some((p) => p >= base && p < base + span)).toBe(true);

    const file = t.worker.services.storage.localPath(job.output_key!)!;
    expect(await decodeErrors(file)).toBe('');
    const info = await probeMedia(file);
    expect(info.video).toMatchObject({ codec: 'h264', width: 1280, height: 720, pixFmt: 'yuv420p' });
    expect((await videoStream(file)).nbFrames).toBe(Math.round(info.durationSeconds * 30));

    // Children carry no usage: one row per job, step and metric.
    const usage = await t.env.db('usage_events').where({ job_id: id }).orderBy(['step', 'metric']);
    expect(usage.map((u) => `${u.step}/${u.metric}`)).toEqual([
      'compose/render_seconds',
      'compose/storage_bytes',
      'images/images',
      'tts/tts_seconds',
    ]);
    expect(Math.abs(present(usage[0]).quantity - info.durationSeconds)).toBeLessThan(0.05);
  });

  it("when a fanned-out render resumes to join its segments, then its stream and its webhooks announce job.started and each step's job.step.started once, for attempt 1, and every step still succeeds on them", async () => {
    const tenant = await t.tenant();
    const announced = ['job.started', 'job.step.started', 'job.step.succeeded'];
    await t.env.db('webhook_endpoints').insert({
      tenant_id: tenant,
      url: `${receiver.url}/hooks`,
      events: JSON.stringify(announced),
    });
    const id = await t.submit(tenant, 'render', { ...fixture, scenes: cards(3, 1) });
    const job = await t.waitFor(id, ['succeeded', 'failed'], 90_000);
    expect([job.status, job.error_message]).toEqual(['succeeded', null]);
    // It did leave for its children and come back to join them.
    expect(await childValues(id)).toHaveLength(3);

    const stream = (
      await readEventsAfter(redis, eventStreamKey(t.env.config.REDIS_PREFIX, tenant), '0-0')
    ).filter((e) => e.jobId === id);
    const ofType = (type: string) => stream.filter((e) => e.event.type === type);
    const steps = (type: string) =>
      ofType(type).map((e) => {
        const step = e.event.data.step as { name: string; attempt: number };
        return `${step.name} ${step.attempt}`;
      });
    expect(ofType('job.started').map((e) => e.event.data.attempt)).toEqual([1]);
    // compose is started once, before it fans out; its join after the resume announces no start.
    expect(steps('job.step.started')).toEqual(['tts 1', 'images 1', 'compose 1']);
    expect(steps('job.step.succeeded')).toEqual(['tts 1', 'images 1', 'compose 1']);
    expect(ofType('job.progress').length).toBeGreaterThan(0);
    expect(stream.at(-1)?.event.type).toBe('job.succeeded');

    // Running events are recorded before the job is final: the delivery log is complete.
    const wanted = stream.filter((e) => announced.includes(e.event.type)).map((e) => e.event.id);
    const deliveries = await t.env.db('webhook_deliveries').where({ job_id: id });
    expect(deliveries.map((d) => d.event_id).sort()).toEqual([...wanted].sort());
    expect(deliveries.filter((d) => d.event === 'job.step.started')).toHaveLength(3);
    await expect
      .poll(async () => (await t.env.db('webhook_deliveries').where({ job_id: id })).map((d) => d.status), {
        timeout: 20_000,
      })
      .toEqual(wanted.map(() => 'delivered'));
    const got = receiver.received.filter((r) => JSON.parse(r.body).data?.job?.id === id);
    expect(got.map((r) => r.headers['webhook-id']).sort()).toEqual([...wanted].sort());
  });

  it('when the same spec is rendered again, then every child finds its segment in the tenant cache and encodes nothing', async () => {
    const tenant = await t.tenant();
    const spec = { ...fixture, scenes: cards(3, 2) };
    await t.waitFor(await t.submit(tenant, 'render', spec), ['succeeded']);
    const id = await t.submit(tenant, 'render', spec);
    await t.waitFor(id, ['succeeded']);
    expect((await childValues(id)).map((v) => v.cacheHit)).toEqual([true, true, true]);
    const segments = await t.env.db('job_steps').where({ job_id: id }).where('name', 'like', 'segment-%');
    expect(segments.map((s) => s.cache_hit)).toEqual([true, true, true]);
  });

  it('when a render has fewer scenes than RENDER_FANOUT_MIN_SCENES, then it encodes them in its own job without children', async () => {
    const tenant = await t.tenant();
    const id = await t.submit(tenant, 'render', { ...fixture, scenes: cards(2, 1) });
    await t.waitFor(id, ['succeeded']);
    expect(await (await parentJob(id)).getDependenciesCount()).toEqual({
      processed: 0,
      unprocessed: 0,
      ignored: 0,
      failed: 0,
    });
    const segments = await t.env.db('job_steps').where({ job_id: id }).where('name', 'like', 'segment-%');
    expect(segments).toHaveLength(2);
  });

  it('when the plan allows one render at a time, then a fanned-out render counts once: the other render waits while one’s segments run, and both succeed', async () => {
    const tenant = await t.tenant(); // the free plan: max_concurrent_renders 1
    const a = await t.submit(tenant, 'render', { ...fixture, scenes: cards(4, 6), resolution: '1080p' });
    const b = await t.submit(tenant, 'render', { ...fixture, scenes: cards(3, 1) });
    let bothRunning = false;
    let oneQueuedWhileOthersSegments = false;
    const deadline = Date.now() + 120_000;
    for (;;) {
      const rows = await t.env.db('jobs').whereIn('id', [a, b]).select('id', 'status');
      const status = Object.fromEntries(rows.map((r) => [r.id, r.status]));
      if (status[a] === 'running' && status[b] === 'running') bothRunning = true;
      // Either may win the slot: the other one stays queued while the winner's segments exist.
      for (const [x, y] of [
        [a, b],
        [b, a],
      ] as const) {
        const seg = await Job.fromId(t.producer.queue('segments'), `${x}.segment-01`);
        if (seg && status[x] === 'running' && status[y] === 'queued') oneQueuedWhileOthersSegments = true;
      }
      if (status[a] === 'succeeded' && status[b] === 'succeeded') break;
      if ([status[a], status[b]].some((s) => s === 'failed' || s === 'canceled')) break;
      if (Date.now() > deadline) throw new Error(`still ${status[a]} / ${status[b]}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(bothRunning).toBe(false);
    expect(oneQueuedWhileOthersSegments).toBe(true);
    expect((await t.job(a)).status).toBe('succeeded');
    expect((await t.job(b)).status).toBe('succeeded');
    expect(await childValues(a)).toHaveLength(4);
    expect(await childValues(b)).toHaveLength(3);
  });

  it('when a fanned-out render is canceled while its segments encode, then every child stops within 2 s, no ffmpeg is left and nothing is billed', async () => {
    const tenant = await t.tenant();
    const id = await t.submit(tenant, 'render', {
      ...fixture,
      scenes: cards(12, 60),
      resolution: '1080p',
      fps: 60,
    });
    const children = `${id}-segment-`; // a child's work directory, in its ffmpeg's arguments
    const deadline = Date.now() + 90_000;
    while (processesFor('ffmpeg', children).length === 0) {
      if (Date.now() > deadline) throw new Error('no segment child ever ran ffmpeg');
      await new Promise((r) => setTimeout(r, 20));
    }
    const t0 = Date.now();
    await t.env.db('jobs').update({ cancel_requested_at: t.env.db.fn.now() }).where({ id });
    const job = await t.waitFor(id, ['canceled', 'succeeded', 'failed'], 5_000);
    expect(job.status).toBe('canceled');
    expect(Date.now() - t0).toBeLessThan(2_000);
    await expect
      .poll(() => processesFor('ffmpeg', id), { timeout: Math.max(100, 2_000 - (Date.now() - t0)) })
      .toEqual([]);
    // Every child finished (the queued ones without encoding) and the parent came back and stopped.
    await expect.poll(async () => (await parentJob(id)).getState(), { timeout: 10_000 }).toBe('completed');
    const encoded = await t.env.db('job_steps').where({ job_id: id }).where('name', 'like', 'segment-%');
    expect(encoded.length).toBeLessThan(12);
    expect(await t.env.db('usage_events').where({ job_id: id, step: 'compose' })).toEqual([]);
  });
});
