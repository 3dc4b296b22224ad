import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFixture } from '../../../shared/testing/fixtures.ts';
import { present } from '../../../shared/testing/present.ts';
import { decodeErrors, videoStream } from '../../media/media-checks.ts';
import { probeMedia } from '../../media/probe.ts';
import { startTestWorker, type TestWorker } from '../../testing/worker-harness.ts';

const fixture = readFixture('render-short') as { scenes: unknown[] } & Record<string, unknown>;

let t: TestWorker;
beforeAll(async () => {
  t = await startTestWorker();
});
afterAll(async () => {
  await t.close();
});

describe('render.run', () => {
  it('when the short fixture is rendered, then an H.264/AAC MP4 of the scenes’ total length is stored and usage is recorded once per step', async () => {
    const tenant = await t.tenant();
    const id = await t.submit(tenant, 'render', fixture);
    const seen: number[] = [];
    const job = await t.waitFor(id, ['succeeded', 'failed'], 90_000, (j) => seen.push(j.progress));
    expect(job.error_message).toBeNull();
    expect(job.status).toBe('succeeded');
    expect(job.progress).toBe(1);
    // progress never went backwards
    for (let i = 1; i < seen.length; i++) expect(seen[i]).toBeGreaterThanOrEqual(seen[i - 1]!);
    expect(new Set(seen).size).toBeGreaterThan(2);

    const file = t.worker.services.storage.localPath(job.output_key!)!;
    const info = await probeMedia(file);
    expect(info.video).toMatchObject({ codec: 'h264', width: 1280, height: 720, pixFmt: 'yuv420p' });
    expect(info.audio?.codec).toBe('aac');

    const steps = await t.env.db('job_steps').where({ job_id: id }).orderBy(['position', 'name']);
    expect(steps.map((s) => [s.name, s.status, s.cache_hit])).toEqual([
      ['tts', 'succeeded', false],
      ['images', 'succeeded', false],
      ['compose', 'succeeded', false],
      ['segment-01', 'succeeded', false],
      ['segment-02', 'succeeded', false],
      ['segment-03', 'succeeded', false],
    ]);
    const speech = (present(steps[0]).result as { scenes: Array<{ durationSeconds: number } | null> }).scenes;
    const expected = speech[0]!.durationSeconds + speech[1]!.durationSeconds + 3;
    expect(Math.abs(info.durationSeconds - expected)).toBeLessThanOrEqual(0.1);

    // Segments are not billed: one row per job, step and metric, render_seconds on compose only.
    const usage = await t.env.db('usage_events').where({ job_id: id }).orderBy('metric');
    expect(usage.map((u) => [u.step, u.metric])).toEqual([
      ['images', 'images'],
      ['compose', 'render_seconds'],
      ['compose', 'storage_bytes'],
      ['tts', 'tts_seconds'],
    ]);
    expect(usage.find((u) => u.metric === 'images')!.quantity).toBe(3);
    expect(
      Math.abs(usage.find((u) => u.metric === 'render_seconds')!.quantity - info.durationSeconds),
    ).toBeLessThan(0.05);
    expect(usage.find((u) => u.metric === 'storage_bytes')!.quantity).toBe(info.bytes);
    expect(job.output_key).toBe(`tenants/${tenant}/outputs/${id}.mp4`);
  });

  it('when the same scenes are rendered again, then narration and images come from the tenant cache and are not billed', async () => {
    const tenant = await t.tenant();
    const first = await t.submit(tenant, 'render', {
      ...fixture,
      resolution: '720p',
      scenes: fixture.scenes.slice(0, 1),
    });
    await t.waitFor(first, ['succeeded']);
    const second = await t.submit(tenant, 'render', {
      ...fixture,
      resolution: '720p',
      scenes: fixture.scenes.slice(0, 1),
    });
    await t.waitFor(second, ['succeeded']);
    const steps = await t.env.db('job_steps').where({ job_id: second });
    expect(
      steps
        .filter((s) => s.cache_hit)
        .map((s) => s.name)
        .sort(),
    ).toEqual(['images', 'segment-01', 'tts']);
    const billed = await t.env
      .db('usage_events')
      .where({ job_id: second })
      .whereIn('metric', ['tts_seconds', 'images']);
    expect(billed).toEqual([]);
    // another tenant does not see the first tenant's cache
    const other = await t.tenant();
    const third = await t.submit(other, 'render', { ...fixture, scenes: fixture.scenes.slice(0, 1) });
    await t.waitFor(third, ['succeeded']);
    const otherSteps = await t.env.db('job_steps').where({ job_id: third });
    expect(otherSteps.some((s) => s.cache_hit)).toBe(false);
  });

  it('when a scene’s text is edited and the render submitted again, then only that scene’s segment is encoded and the output is billed in full', async () => {
    const tenant = await t.tenant();
    const first = await t.submit(tenant, 'render', fixture);
    const a = await t.waitFor(first, ['succeeded']);
    const scenes = fixture.scenes as Array<Record<string, unknown>>;
    const edited = {
      ...fixture,
      scenes: [scenes[0], { ...scenes[1], text: 'Workers take the job.' }, scenes[2]],
    };
    const second = await t.submit(tenant, 'render', edited);
    const b = await t.waitFor(second, ['succeeded']);
    const segments = await t.env
      .db('job_steps')
      .where({ job_id: second })
      .where('name', 'like', 'segment-%')
      .orderBy('name');
    expect(segments.map((s) => [s.name, s.cache_hit])).toEqual([
      ['segment-01', true],
      ['segment-02', false],
      ['segment-03', true],
    ]);
    // The output is what a render from nothing would be: frames, keyframes, clean decode.
    const file = t.worker.services.storage.localPath(b.output_key!)!;
    expect(await decodeErrors(file)).toBe('');
    const info = await probeMedia(file);
    const stream = await videoStream(file);
    expect(stream.nbFrames).toBe(Math.round(info.durationSeconds * 30));
    expect(info.durationSeconds).toBeLessThan(Number(a.output_duration_seconds));
    const billed = await t.env.db('usage_events').where({ job_id: second, metric: 'render_seconds' });
    expect(billed).toHaveLength(1);
    expect(Math.abs(present(billed[0]).quantity - info.durationSeconds)).toBeLessThan(0.05);
    // GET /v1/jobs/:id reads these rows: one step per segment, with its cache_hit.
    expect(await t.env.db('job_steps').where({ job_id: second }).count('* as n').first()).toEqual({ n: 6 });
  });

  it('when a voice does not exist, then the job fails at once with bad_input and is not retried', async () => {
    const tenant = await t.tenant();
    const id = await t.submit(tenant, 'render', { scenes: [{ text: 'hello' }], voice: 'zz-nope' });
    const job = await t.waitFor(id, ['succeeded', 'failed']);
    expect(job.status).toBe('failed');
    expect(job.error_code).toBe('bad_input');
    expect(job.attempts).toBe(1);
  });

  it('when tts and image jobs run, then they produce a WAV/MP3 and a PNG of the requested size', async () => {
    const tenant = await t.tenant();
    const mp3 = await t.submit(tenant, 'tts', { text: 'Short speech.', format: 'mp3' });
    const png = await t.submit(tenant, 'image', { title: 'Hi', text: 'card', width: 320, height: 180 });
    const a = await t.waitFor(mp3, ['succeeded', 'failed']);
    const b = await t.waitFor(png, ['succeeded', 'failed']);
    expect([a.status, b.status]).toEqual(['succeeded', 'succeeded']);
    const audio = await probeMedia(t.worker.services.storage.localPath(a.output_key!)!);
    expect(audio.audio?.codec).toBe('mp3');
    const image = await probeMedia(t.worker.services.storage.localPath(b.output_key!)!);
    expect(image.video).toMatchObject({ width: 320, height: 180 });
  });
});

describe('outputs and metrics', () => {
  it('when an output passes its retention, then the sweeper deletes the file and marks it deleted', async () => {
    const tenant = await t.tenant();
    const id = await t.submit(tenant, 'image', { title: 'old', width: 32, height: 32 });
    const job = await t.waitFor(id, ['succeeded']);
    const file = t.worker.services.storage.localPath(job.output_key!)!;
    expect(await t.worker.services.storage.stat(job.output_key!)).not.toBeNull();
    await t.env
      .db('jobs')
      .update({ output_expires_at: new Date(Date.now() - 1000) })
      .where({ id });
    const { sweepExpiredOutputs } = await import('../maintenance/sweep-outputs-task.ts');
    expect(await sweepExpiredOutputs(t.worker.services)).toBe(1);
    expect(await t.worker.services.storage.stat(job.output_key!)).toBeNull();
    expect(file).toContain(tenant);
    const after = present(await t.env.db('jobs').where({ id }).first());
    expect(after.output_deleted_at).not.toBeNull();
    expect(await sweepExpiredOutputs(t.worker.services)).toBe(0);
  });

  it('when jobs have run, then the worker /metrics exposes step durations, finished jobs and cache hits', async () => {
    // Its own renders (the second one hits the first one's cache): the test passes in any order.
    const tenant = await t.tenant();
    const oneScene = { ...fixture, scenes: fixture.scenes.slice(0, 1) };
    await t.waitFor(await t.submit(tenant, 'render', oneScene), ['succeeded']);
    await t.waitFor(await t.submit(tenant, 'render', oneScene), ['succeeded']);
    const text = await (await fetch(t.worker.metricsUrl)).text();
    expect(text).toMatch(
      /rendermill_step_duration_seconds_count\{[^}]*kind="render"[^}]*step="compose"[^}]*outcome="succeeded"/,
    );
    expect(text).toMatch(
      /rendermill_jobs_finished_total\{[^}]*kind="render"[^}]*outcome="succeeded"[^}]*\} [1-9]/,
    );
    expect(text).toMatch(/rendermill_cache_hits_total\{[^}]*kind="render"[^}]*\} [1-9]/);
    expect(text).toContain('rendermill_queue_depth');
  });
});
