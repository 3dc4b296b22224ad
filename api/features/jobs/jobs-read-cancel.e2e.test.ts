import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { present } from '../../../shared/testing/present.ts';
import type { JobView } from './job-serializer.ts';
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

async function submitRender(as = token): Promise<string> {
  const r = await k.t.call('POST', '/v1/renders', { token: as, body: fixture });
  if (r.status !== 202) throw new Error(`submit answered ${r.status}: ${r.text}`);
  return r.body.id as string;
}

type Page = { data: JobView[]; next_cursor: string | null };

describe('GET /v1/jobs/:id', () => {
  it('when a viewer reads a job with steps and usage, then steps are in order with the voice engine that spoke, and usage is summed per metric', async () => {
    const id = await submitRender();
    const at = new Date('2026-11-20T10:00:00Z');
    await k.t.env
      .db('jobs')
      .update({ status: 'running', progress: 0.5, attempts: 2, started_at: at })
      .where({ id });
    await k.t.env.db('job_steps').insert([
      { job_id: id, name: 'compose', position: 2, status: 'running', attempt: 2, started_at: at },
      {
        job_id: id,
        name: 'tts',
        position: 0,
        status: 'succeeded',
        attempt: 1,
        cache_hit: true,
        voice_engine: 'espeak-ng',
        started_at: at,
        finished_at: at,
      },
      {
        job_id: id,
        name: 'image',
        position: 1,
        status: 'succeeded',
        attempt: 1,
        started_at: at,
        finished_at: at,
      },
    ]);
    await k.t.env.db('usage_events').insert([
      {
        id: 'evt_a',
        tenant_id: k.owner.tenant.id,
        job_id: id,
        step: 'tts',
        metric: 'tts_seconds',
        quantity: 10.5,
      },
      {
        id: 'evt_b',
        tenant_id: k.owner.tenant.id,
        job_id: id,
        step: 'tts-2',
        metric: 'tts_seconds',
        quantity: 2,
      },
      { id: 'evt_c', tenant_id: k.owner.tenant.id, job_id: id, step: 'image', metric: 'images', quantity: 3 },
    ]);

    const r = await k.t.call<JobView>('GET', `/v1/jobs/${id}`, { token: k.keys.viewer });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({
      id,
      status: 'running',
      progress: 0.5,
      attempts: 2,
      started_at: at.toISOString(),
    });
    expect(r.body.steps).toEqual([
      {
        name: 'tts',
        status: 'succeeded',
        started_at: at.toISOString(),
        finished_at: at.toISOString(),
        attempt: 1,
        cache_hit: true,
        voice_engine: 'espeak-ng',
      },
      {
        name: 'image',
        status: 'succeeded',
        started_at: at.toISOString(),
        finished_at: at.toISOString(),
        attempt: 1,
        cache_hit: false,
        voice_engine: null,
      },
      {
        name: 'compose',
        status: 'running',
        started_at: at.toISOString(),
        finished_at: null,
        attempt: 2,
        cache_hit: false,
        voice_engine: null,
      },
    ]);
    expect(r.body.usage).toEqual([
      { metric: 'images', quantity: 3 },
      { metric: 'tts_seconds', quantity: 12.5 },
    ]);
  });

  it('when a job failed, then error carries its code and message', async () => {
    const id = await submitRender();
    await k.t.env
      .db('jobs')
      .update({
        status: 'failed',
        error_code: 'step_timeout',
        error_message: 'compose took over 60 s',
        finished_at: new Date(),
      })
      .where({ id });
    const r = await k.t.call<JobView>('GET', `/v1/jobs/${id}`, { token });
    expect(r.body.error).toEqual({ code: 'step_timeout', message: 'compose took over 60 s' });
  });

  it('when the id does not exist, then it answers 404', async () => {
    for (const id of ['job_doesnotexist', 'x'.repeat(500)]) {
      const r = await k.t.call('GET', `/v1/jobs/${id}`, { token });
      expect(r.status).toBe(404);
      expect(r.body).toMatchObject({ code: 'not_found' });
    }
  });
});

describe('GET /v1/jobs', () => {
  it('when 25 jobs are paged 10 at a time, then every job appears once, newest first', async () => {
    const other = await k.t.signIn('lister@jobs.example.com');
    const ids: string[] = [];
    for (let i = 0; i < 25; i++) ids.push(await submitRender(other.access_token));
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const q: string = cursor ? `?limit=10&cursor=${cursor}` : '?limit=10';
      const r = await k.t.call<Page>('GET', `/v1/jobs${q}`, { token: other.access_token });
      expect(r.status).toBe(200);
      seen.push(...r.body.data.map((j) => j.id));
      cursor = r.body.next_cursor;
      pages++;
    } while (cursor && pages < 10);
    expect(pages).toBe(3);
    expect(seen).toEqual([...ids].reverse());
  });

  it('when jobs share a millisecond or a timestamp, then paging one at a time still skips none', async () => {
    const t3 = await k.t.signIn('ties@jobs.example.com');
    const stamps = ['.123456', '.123456', '.123401', '.123999', '.123000', '.122999'];
    const ids = stamps.map((_, i) => `job_tie${i}`);
    await k.t.env.db('jobs').insert(
      stamps.map((us, i) => ({
        id: present(ids[i]),
        tenant_id: t3.tenant.id,
        kind: 'render',
        payload: '{}',
        created_at: k.t.env.db.raw('?::timestamptz', [`2026-11-20T10:00:00${us}Z`]),
      })),
    );
    const seen: string[] = [];
    let cursor: string | null = null;
    for (let i = 0; i < 10; i++) {
      const q: string = cursor ? `?limit=1&cursor=${cursor}` : '?limit=1';
      const r = await k.t.call<Page>('GET', `/v1/jobs${q}`, { token: t3.access_token });
      seen.push(...r.body.data.map((j) => j.id));
      cursor = r.body.next_cursor;
      if (!cursor) break;
    }
    // created_at desc, then id desc among equals.
    expect(seen).toEqual(['job_tie3', 'job_tie1', 'job_tie0', 'job_tie2', 'job_tie4', 'job_tie5']);
  });

  it('when filtered by status and kind, then only matching jobs are listed', async () => {
    const t2 = await k.t.signIn('filters@jobs.example.com');
    const a = await submitRender(t2.access_token);
    const b = await submitRender(t2.access_token);
    const tts = await k.t.call('POST', '/v1/tts', { token: t2.access_token, body: { text: 'Hello' } });
    await k.t.env.db('jobs').update({ status: 'succeeded' }).where({ id: b });

    const list = async (q: string) =>
      (await k.t.call<Page>('GET', `/v1/jobs?${q}`, { token: t2.access_token })).body.data.map((j) => j.id);
    expect(await list('status=succeeded')).toEqual([b]);
    expect(await list('kind=render')).toEqual([b, a]);
    expect(await list('kind=tts')).toEqual([tts.body.id]);
    expect(await list('kind=render&status=queued')).toEqual([a]);
    expect(await list('kind=image')).toEqual([]);
    const default20 = await k.t.call<Page>('GET', '/v1/jobs', { token: t2.access_token });
    expect(default20.body).toMatchObject({ next_cursor: null });
  });

  it.each([
    ['status=done', '/status'],
    ['kind=video', '/kind'],
    ['limit=0', '/limit'],
    ['limit=101', '/limit'],
    ['limit=abc', '/limit'],
    ['status=queued&status=running', '/status'],
    ['cursor=garbage', '/cursor'],
    [`cursor=${Buffer.from('["2026-02-30T00:00:00.000000Z","job_1"]').toString('base64url')}`, '/cursor'],
  ])('when the query is %s, then it answers 400 naming %s', async (q, path) => {
    const r = await k.t.call('GET', `/v1/jobs?${q}`, { token });
    expect(r.status).toBe(400);
    expect((r.body.errors as Array<{ path: string }>).map((e) => e.path)).toContain(path);
  });
});

describe('POST /v1/jobs/:id/cancel', () => {
  it('when a queued job is canceled, then it is canceled at once, leaves BullMQ, and a second cancel is 409', async () => {
    const id = await submitRender();
    const { producer } = k.t.api.deps;
    // Queued: on its tenant's fair-share list, or in BullMQ when fair share is off.
    const queued = async () =>
      Boolean(await producer.fair?.holds('render', id)) || Boolean(await producer.queue('render').getJob(id));
    expect(await queued()).toBe(true);

    const r = await k.t.call<JobView>('POST', `/v1/jobs/${id}/cancel`, { token: k.keys.member });
    expect(r.status).toBe(202);
    expect(r.body).toMatchObject({ id, status: 'canceled' });
    expect(r.body.finished_at).not.toBeNull();
    const row = present(await k.t.env.db('jobs').where({ id }).first());
    expect(row).toMatchObject({ status: 'canceled' });
    expect(row.cancel_requested_at).toBeInstanceOf(Date);
    expect(await queued()).toBe(false);
    expect(await k.t.env.db('audit_log').where({ action: 'job.canceled', target_id: id })).toHaveLength(1);

    const again = await k.t.call('POST', `/v1/jobs/${id}/cancel`, { token });
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({ code: 'conflict' });
  });

  it('when a running job is canceled, then only the request is recorded for its worker', async () => {
    const id = await submitRender();
    await k.t.env.db('jobs').update({ status: 'running', started_at: new Date() }).where({ id });
    const r = await k.t.call<JobView>('POST', `/v1/jobs/${id}/cancel`, { token });
    expect(r.status).toBe(202);
    expect(r.body).toMatchObject({ status: 'running', finished_at: null });
    const row = present(await k.t.env.db('jobs').where({ id }).first());
    expect(row.cancel_requested_at).toBeInstanceOf(Date);
    expect(
      await k.t.env.db('audit_log').where({ action: 'job.cancel_requested', target_id: id }),
    ).toHaveLength(1);
  });

  it('when a job already succeeded or failed, then cancel answers 409', async () => {
    for (const status of ['succeeded', 'failed'] as const) {
      const id = await submitRender();
      await k.t.env.db('jobs').update({ status, finished_at: new Date() }).where({ id });
      expect((await k.t.call('POST', `/v1/jobs/${id}/cancel`, { token })).status).toBe(409);
    }
  });

  it('when a viewer cancels, then it answers 403 and the job stays queued', async () => {
    const id = await submitRender();
    expect((await k.t.call('POST', `/v1/jobs/${id}/cancel`, { token: k.keys.viewer })).status).toBe(403);
    expect(present(await k.t.env.db('jobs').where({ id }).first()).status).toBe('queued');
  });
});

describe('tenant walls', () => {
  it('when another tenant asks for a job, its cancel or its output, then each answers 404 and its list hides it', async () => {
    const id = await submitRender();
    const theirs = k.other.access_token;
    for (const [method, path] of [
      ['GET', `/v1/jobs/${id}`],
      ['POST', `/v1/jobs/${id}/cancel`],
      ['GET', `/v1/jobs/${id}/output`],
    ] as const) {
      const r = await k.t.call(method, path, { token: theirs });
      expect(r.status, `${method} ${path}`).toBe(404);
      expect(r.body).toMatchObject({ code: 'not_found' });
    }
    const list = await k.t.call<Page>('GET', '/v1/jobs?limit=100', { token: theirs });
    expect(list.body.data.map((j) => j.id)).not.toContain(id);
    expect(present(await k.t.env.db('jobs').where({ id }).first()).status).toBe('queued');
  });
});
