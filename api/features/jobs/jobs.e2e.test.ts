import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { estimateRender } from '../../../shared/jobs/estimate.ts';
import { renderRequestSchema } from '../../../shared/jobs/job-requests.ts';
import { present } from '../../../shared/testing/present.ts';
import type { JobsTestKit } from './jobs-test-kit.ts';
import { readRenderShort, startJobsTestKit } from './jobs-test-kit.ts';

let k: JobsTestKit;
let fixture: Record<string, unknown>;
let token: string;
beforeAll(async () => {
  k = await startJobsTestKit();
  fixture = await readRenderShort();
  token = k.owner.access_token;
});
afterAll(async () => {
  await k.t.close();
});

const jobCount = async () => Number((await k.t.env.db('jobs').count({ n: '*' }))[0]?.n);
/** The BullMQ job, after a dispatch pass moved fair-share jobs in (as a worker's dispatcher would). */
const bullJob = async (queue: 'render' | 'media', id: string) => {
  const { producer } = k.t.api.deps;
  await producer.fair?.dispatch(producer.queue(queue), 1000, producer.addPicked);
  return producer.queue(queue).getJob(id);
};
const scene = (extra: Record<string, unknown> = {}) => ({ text: 'Hello there.', ...extra });

describe('POST /v1/renders', () => {
  it('when a member submits the short fixture, then it answers 202 with the job, stores it and enqueues it', async () => {
    const submitted = k.t.api.deps.metrics.jobsSubmitted;
    const before = (await submitted.get()).values.find((v) => v.labels.kind === 'render')?.value ?? 0;

    const r = await k.t.call('POST', '/v1/renders', { token, body: fixture });
    expect(r.status).toBe(202);
    const id = r.body.id as string;
    expect(id).toMatch(/^job_/);
    expect(r.headers.get('location')).toBe(`/v1/jobs/${id}`);
    expect(Object.keys(r.body).sort()).toEqual(
      [
        'attempts',
        'created_at',
        'error',
        'estimate',
        'finished_at',
        'id',
        'kind',
        'metadata',
        'output',
        'progress',
        'result',
        'started_at',
        'status',
        'steps',
        'usage',
      ].sort(),
    );
    expect(r.body).toMatchObject({
      kind: 'render',
      status: 'queued',
      progress: 0,
      attempts: 0,
      steps: [],
      usage: [],
      output: null,
      error: null,
      result: null,
      started_at: null,
      finished_at: null,
      metadata: { sample: 'render-short' },
      estimate: estimateRender(renderRequestSchema.parse(fixture)),
    });
    expect(r.body.estimate).toMatchObject({ images: 3 });
    expect(new Date(r.body.created_at as string).toISOString()).toBe(r.body.created_at);

    const row = present(await k.t.env.db('jobs').where({ id }).first());
    expect(row).toMatchObject({
      tenant_id: k.owner.tenant.id,
      kind: 'render',
      status: 'queued',
      priority: 10, // the free plan's queue priority (BullMQ: 1 runs first)
      created_by: k.owner.user.id,
      callback_url: null,
    });
    expect(row.payload).toEqual(renderRequestSchema.parse(fixture));
    // The outbox mark follows the add within a few milliseconds (one UPDATE for a batch of jobs).
    await expect
      .poll(async () => (await k.t.env.db('jobs').where({ id }).first())?.enqueued_at)
      .toBeInstanceOf(Date);

    const queued = await bullJob('render', id);
    expect(queued?.name).toBe('render.run');
    expect(queued?.data).toEqual({ jobId: id, tenantId: k.owner.tenant.id });

    const audit = await k.t.env.db('audit_log').where({ action: 'job.submitted', target_id: id });
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ tenant_id: k.owner.tenant.id, actor_id: k.owner.user.id });

    const after = (await submitted.get()).values.find((v) => v.labels.kind === 'render')?.value ?? 0;
    expect(after).toBe(before + 1);
  });

  it('when a member API key submits TTS and an image, then both go to the media queue', async () => {
    const tts = await k.t.call('POST', '/v1/tts', {
      token: k.keys.member,
      body: { text: 'One two three.', format: 'mp3' },
    });
    expect(tts.status).toBe(202);
    expect(tts.body).toMatchObject({ kind: 'tts', status: 'queued' });
    expect((tts.body.estimate as { tts_seconds: number }).tts_seconds).toBeGreaterThan(0);
    expect((await bullJob('media', tts.body.id as string))?.name).toBe('tts.run');

    const img = await k.t.call('POST', '/v1/images', {
      token: k.keys.member,
      body: { title: 'Card', width: 640, height: 360, background: '#334155' },
    });
    expect(img.status).toBe(202);
    expect(img.body).toMatchObject({ kind: 'image', estimate: { images: 1 } });
    expect((await bullJob('media', img.body.id as string))?.name).toBe('image.run');
  });

  it('when a viewer submits, then it answers 403 and nothing is written', async () => {
    const before = await jobCount();
    for (const path of ['/v1/renders', '/v1/tts', '/v1/images']) {
      const r = await k.t.call('POST', path, { token: k.keys.viewer, body: fixture });
      expect(r.status).toBe(403);
      expect(r.body).toMatchObject({ code: 'forbidden' });
    }
    expect(await jobCount()).toBe(before);
  });

  it('when there is no token, then it answers 401', async () => {
    expect((await k.t.call('POST', '/v1/renders', { body: fixture })).status).toBe(401);
  });
});

describe('submission validation', () => {
  const longText = 'a'.repeat(2001);
  it.each([
    ['a colour that is not #rrggbb', { scenes: [scene({ background: 'red' })] }, '/scenes/0/background'],
    ['51 scenes', { scenes: Array.from({ length: 51 }, () => scene()) }, '/scenes'],
    ['no scenes', { scenes: [] }, '/scenes'],
    ['narration over 2000 characters', { scenes: [scene(), scene({ text: longText })] }, '/scenes/1/text'],
    ['a file: image_url', { scenes: [scene({ image_url: 'file:///etc/passwd' })] }, '/scenes/0/image_url'],
    [
      'a loopback image_url',
      { scenes: [scene({ image_url: 'http://127.0.0.1/a.png' })] },
      '/scenes/0/image_url',
    ],
    [
      'a metadata-service image_url',
      { scenes: [scene({ image_url: 'http://169.254.169.254/x' })] },
      '/scenes/0/image_url',
    ],
    [
      'a private callback_url',
      { scenes: [scene()], callback_url: 'http://192.168.1.20/hook' },
      '/callback_url',
    ],
    ['an ftp callback_url', { scenes: [scene()], callback_url: 'ftp://example.com/hook' }, '/callback_url'],
    ['an unknown resolution', { scenes: [scene()], resolution: '480p' }, '/resolution'],
    ['an unsupported fps', { scenes: [scene()], fps: 29 }, '/fps'],
    ['an unknown aspect', { scenes: [scene()], aspect: '4:3' }, '/aspect'],
    [
      'a scene with neither text nor duration',
      { scenes: [scene(), { title: 'Only a title' }] },
      '/scenes/1/duration',
    ],
    ['a negative duration', { scenes: [{ duration: -1 }] }, '/scenes/0/duration'],
    ['an unknown field', { scenes: [scene()], colour: 'blue' }, '/colour'],
  ])('when the body has %s, then it answers 400 naming %s and writes nothing', async (_what, body, path) => {
    const before = await jobCount();
    const r = await k.t.call('POST', '/v1/renders', { token, body });
    expect(r.status).toBe(400);
    expect(r.headers.get('content-type')).toContain('application/problem+json');
    expect(r.body).toMatchObject({ code: 'validation_failed', status: 400 });
    expect((r.body.errors as Array<{ path: string }>).map((e) => e.path)).toContain(path);
    expect(await jobCount()).toBe(before);
  });

  it('when a vertical or square render is submitted, then the estimate is the landscape one and 2160p stays behind the plan gate', async () => {
    for (const aspect of ['9:16', '1:1']) {
      const r = await k.t.call('POST', '/v1/renders', { token, body: { ...fixture, aspect } });
      expect(r.status).toBe(202);
      expect(r.body.estimate).toEqual(estimateRender(renderRequestSchema.parse(fixture)));
      const uhd = await k.t.call('POST', '/v1/renders', {
        token,
        body: { ...fixture, aspect, resolution: '2160p' },
      });
      expect(uhd.status).toBe(403);
      expect(uhd.body).toMatchObject({ code: 'upgrade_required', feature: 'resolution_2160p' });
    }
  });

  it('when TTS or image bodies are invalid, then the field is named', async () => {
    const tts = await k.t.call('POST', '/v1/tts', { token, body: { text: 'hi', format: 'ogg' } });
    expect(tts.status).toBe(400);
    expect(tts.body.errors).toEqual([expect.objectContaining({ path: '/format' })]);
    const img = await k.t.call('POST', '/v1/images', { token, body: { width: 99999 } });
    expect(img.status).toBe(400);
    expect(img.body.errors).toEqual([expect.objectContaining({ path: '/width' })]);
  });

  it('when the body is malformed JSON or missing, then it answers 400', async () => {
    expect((await k.t.call('POST', '/v1/renders', { token, raw: '{"scenes": [' })).status).toBe(400);
    expect((await k.t.call('POST', '/v1/renders', { token })).status).toBe(400);
  });
});

describe('Idempotency-Key', () => {
  const withKey = (key: string) => ({ 'idempotency-key': key });

  it('when the same key comes with the same body, then the original job answers and no second one is made', async () => {
    const first = await k.t.call('POST', '/v1/renders', { token, body: fixture, headers: withKey('same-1') });
    expect(first.status).toBe(202);
    // Same request with keys in another order and a default spelled out: still the same body.
    const reordered = Object.fromEntries(Object.entries({ ...fixture, resolution: '720p' }).reverse());
    const again = await k.t.call('POST', '/v1/renders', {
      token,
      body: reordered,
      headers: withKey('same-1'),
    });
    expect(again.status).toBe(202);
    expect(again.body.id).toBe(first.body.id);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.headers.get('location')).toBe(`/v1/jobs/${first.body.id}`);
    expect(
      await k.t.env
        .db('jobs')
        .where({ id: first.body.id as string })
        .count({ n: '*' }),
    ).toEqual([{ n: 1 }]);
    expect(await k.t.env.db('idempotency_keys').where({ key: 'same-1' })).toHaveLength(1);
  });

  it('when the same key comes with a different body or kind, then it answers 409 conflict', async () => {
    const first = await k.t.call('POST', '/v1/renders', { token, body: fixture, headers: withKey('diff-1') });
    expect(first.status).toBe(202);
    const before = await jobCount();
    const other = await k.t.call('POST', '/v1/renders', {
      token,
      body: { ...fixture, fps: 25 },
      headers: withKey('diff-1'),
    });
    expect(other.status).toBe(409);
    expect(other.body).toMatchObject({ code: 'conflict' });
    const tts = await k.t.call('POST', '/v1/tts', {
      token,
      body: { text: 'hi' },
      headers: withKey('diff-1'),
    });
    expect(tts.status).toBe(409);
    expect(await jobCount()).toBe(before);
  });

  it('when identical requests with one key arrive at once, then exactly one job is made', async () => {
    const before = await jobCount();
    const answers = await Promise.all(
      Array.from({ length: 8 }, () =>
        k.t.call('POST', '/v1/renders', { token, body: fixture, headers: withKey('race-1') }),
      ),
    );
    expect(answers.map((a) => a.status)).toEqual(Array(8).fill(202));
    expect(new Set(answers.map((a) => a.body.id)).size).toBe(1);
    expect(await jobCount()).toBe(before + 1);
    expect(answers.filter((a) => a.headers.get('idempotent-replayed') === 'true')).toHaveLength(7);
  });

  it('when keys are per tenant, then another tenant may use the same key for its own job', async () => {
    const mine = await k.t.call('POST', '/v1/renders', {
      token,
      body: fixture,
      headers: withKey('shared-1'),
    });
    const theirs = await k.t.call('POST', '/v1/renders', {
      token: k.other.access_token,
      body: fixture,
      headers: withKey('shared-1'),
    });
    expect(theirs.status).toBe(202);
    expect(theirs.body.id).not.toBe(mine.body.id);
  });

  it('when a key has expired, then it is replaced and a new job is made', async () => {
    const first = await k.t.call('POST', '/v1/renders', { token, body: fixture, headers: withKey('old-1') });
    await k.t.env
      .db('idempotency_keys')
      .update({ expires_at: new Date(Date.now() - 1000) })
      .where({ key: 'old-1' });
    const second = await k.t.call('POST', '/v1/renders', {
      token,
      body: { ...fixture, fps: 24 },
      headers: withKey('old-1'),
    });
    expect(second.status).toBe(202);
    expect(second.body.id).not.toBe(first.body.id);
    const row = present(await k.t.env.db('idempotency_keys').where({ key: 'old-1' }).first());
    expect(row.job_id).toBe(second.body.id);
    expect(row.expires_at.getTime()).toBeGreaterThan(Date.now() + 23 * 3600_000);
  });

  it('when the key is empty or longer than 255 characters, then it answers 400', async () => {
    const long = await k.t.call('POST', '/v1/renders', {
      token,
      body: fixture,
      headers: withKey('k'.repeat(256)),
    });
    expect(long.status).toBe(400);
    expect(long.body).toMatchObject({ code: 'validation_failed' });
    const ok = await k.t.call('POST', '/v1/renders', {
      token,
      body: fixture,
      headers: withKey('k'.repeat(255)),
    });
    expect(ok.status).toBe(202);
  });
});
