import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { eventStreamKey } from '../../../shared/events/event-stream.ts';
import { newId } from '../../../shared/ids/ids.ts';
import { createSecretBox } from '../../../shared/integrations/secret-box.ts';
import { createLogger } from '../../../shared/logging/logger.ts';
import { createLocalStorage } from '../../../shared/storage/local-storage.ts';
import { tenantKey } from '../../../shared/storage/storage.ts';
import { type FakeGoogle, startFakeGoogle } from '../../../shared/testing/fake-google.ts';
import { present } from '../../../shared/testing/present.ts';
import type { StepServices } from '../../jobs/step.ts';
import { loadJob, runSteps } from '../../testing/run-steps.ts';
import { startTestWorker, type TestWorker } from '../../testing/worker-harness.ts';
import { revokeIntegrations } from '../account/revoke-integrations.ts';

const KEY = randomBytes(32).toString('base64');
const CHUNK = 2 * 262_144;
// 1.3 MiB: three chunks of 512 KiB, the last one short.
const VIDEO = randomBytes(1_300_000);
const VIDEO_SHA = createHash('sha256').update(VIDEO).digest('hex');

let google: FakeGoogle;
let t: TestWorker;
beforeAll(async () => {
  google = await startFakeGoogle();
  t = await startTestWorker({
    ...google.env,
    INTEGRATIONS_ENCRYPTION_KEY: KEY,
    YOUTUBE_CHUNK_BYTES: String(CHUNK),
  });
});
afterAll(async () => {
  await t?.close();
  await google?.close();
});
beforeEach(() => {
  google.faults = {
    dropChunkAfterBytes: null,
    fail503: 0,
    quota403: 0,
    dropFinalAnswer: false,
    faultsAfterBytes: 0,
  };
});

/** A pro tenant with a connected channel and a succeeded render whose output is VIDEO. */
async function seed(): Promise<{ tenantId: string; renderId: string; refreshToken: string }> {
  const tenantId = await t.tenant();
  await t.env.db('tenants').update({ plan: 'pro' }).where({ id: tenantId });
  const refreshToken = google.issueRefreshToken();
  const box = createSecretBox(KEY);
  await t.env.db('youtube_connections').insert({
    tenant_id: tenantId,
    refresh_token_encrypted: box.seal(refreshToken, tenantId),
    key_fingerprint: box.fingerprint,
    scope: 'https://www.googleapis.com/auth/youtube.upload',
  });
  const renderId = newId('job');
  const key = tenantKey(tenantId, 'outputs', `${renderId}.mp4`);
  await createLocalStorage(t.env.config.STORAGE_DIR).putBuffer(key, VIDEO);
  await t.env.db('jobs').insert({
    id: renderId,
    tenant_id: tenantId,
    kind: 'render',
    status: 'succeeded',
    progress: 1,
    payload: JSON.stringify({}),
    output_key: key,
    output_content_type: 'video/mp4',
    output_bytes: VIDEO.length,
    finished_at: new Date(),
  });
  return { tenantId, renderId, refreshToken };
}

async function publish(tenantId: string, renderId: string): Promise<string> {
  const id = newId('job');
  await t.env.db('jobs').insert({
    id,
    tenant_id: tenantId,
    kind: 'publish',
    payload: JSON.stringify({
      destination: 'youtube',
      source_job_id: renderId,
      title: 'Launch video',
      description: 'Made with Rendermill',
      privacy: 'unlisted',
      requested_by: null,
    }),
  });
  await t.producer.enqueueJob({ id, tenant_id: tenantId, kind: 'publish' });
  return id;
}

const result = async (id: string) =>
  (await t.env.db('jobs').select('result', 'progress', 'attempts').where({ id }).first()) as {
    result: { destination: string; video_id: string; url: string } | null;
    progress: number;
    attempts: number;
  };

/** Every chunk the fake saw started where the session was: nothing acknowledged was sent again, no gap. */
function chunksOf(session: string) {
  return google.chunks.filter((c) => c.session === session);
}

describe('publish.youtube', () => {
  it('when the first chunk answers 503 and the next connection drops mid-chunk, then the upload resumes from the acknowledged byte and creates one video', async () => {
    const { tenantId, renderId } = await seed();
    const before = { sessions: google.sessions.size, videos: google.videos.length };
    google.faults.fail503 = 1;
    google.faults.dropChunkAfterBytes = 300_000;
    const id = await publish(tenantId, renderId);
    const job = await t.waitFor(id, ['succeeded', 'failed']);
    expect(job.error_message).toBeNull();
    expect(job.status).toBe('succeeded');

    // One session, one video, despite the retries.
    expect(google.sessions.size).toBe(before.sessions + 1);
    expect(google.videos.length).toBe(before.videos + 1);
    const session = [...google.sessions.values()].at(-1);
    const video = google.videos.find((v) => v.session === session?.id);
    expect(video?.sha256).toBe(VIDEO_SHA);
    expect(video?.metadata).toMatchObject({
      snippet: { title: 'Launch video', description: 'Made with Rendermill' },
      status: { privacyStatus: 'unlisted' },
    });
    const { result: r, progress } = await result(id);
    expect(r).toEqual({
      destination: 'youtube',
      video_id: video?.id,
      url: `https://youtu.be/${video?.id}`,
      source_job_id: renderId,
    });
    expect(progress).toBe(1);
    // The tenant's event stream tells this job's story like any other job's.
    // Stream entries are written as [type, <type>, job, <job id>, event, <json>].
    const events = (await t.env.redis.xrange(eventStreamKey(t.env.config.REDIS_PREFIX, tenantId), '-', '+'))
      .filter(([, fields]) => fields[3] === id)
      .map(([, fields]) => fields[1]);
    expect(events).toEqual(
      expect.arrayContaining(['job.started', 'job.step.started', 'job.step.succeeded', 'job.succeeded']),
    );

    const chunks = chunksOf(session?.id ?? '');
    expect(chunks.map((c) => c.outcome)).toEqual(['failed', 'dropped', 'ok', 'ok']);
    // Dropped after 300 000 bytes of 0–524287: the session kept one 256 KiB unit and the client
    // went on from byte 262144 — not from 0, not from the end of the chunk it had sent — in two
    // more chunks (262144–786431, 786432–1299999).
    expect(chunks[2]?.start).toBe(262_144);
    for (const c of chunks.filter((x) => x.outcome !== 'failed')) expect(c.start).toBe(c.acknowledged);
    const resent = chunks.filter((c) => c.outcome === 'ok').reduce((n, c) => n + c.bytesArrived, 0);
    expect(resent + 262_144).toBe(VIDEO.length);
  });

  it('when the answer to the final chunk is lost, then the retry asks the session, finds the video and never starts a second upload', async () => {
    const { tenantId, renderId } = await seed();
    const before = { sessions: google.sessions.size, videos: google.videos.length };
    google.faults.dropFinalAnswer = true;
    const id = await publish(tenantId, renderId);
    const job = await t.waitFor(id, ['succeeded', 'failed']);
    expect(job.status).toBe('succeeded');
    expect(google.sessions.size).toBe(before.sessions + 1);
    expect(google.videos.length).toBe(before.videos + 1);
    expect((await result(id)).result?.video_id).toBe(google.videos.at(-1)?.id);
  });

  it('when quota errors outlast an attempt, then the next attempt resumes the saved session after its acknowledged bytes and one video is created', async () => {
    const { tenantId, renderId } = await seed();
    const before = { sessions: google.sessions.size, videos: google.videos.length };
    // The first chunk lands; then five quota errors in a row end the first attempt.
    google.faults.faultsAfterBytes = CHUNK;
    google.faults.quota403 = 5;
    const id = await publish(tenantId, renderId);
    const job = await t.waitFor(id, ['succeeded', 'failed']);
    expect(job.status).toBe('succeeded');
    expect(job.attempts).toBe(2);
    expect(google.sessions.size).toBe(before.sessions + 1);
    expect(google.videos.length).toBe(before.videos + 1);
    const session = [...google.sessions.values()].at(-1);
    expect(google.videos.at(-1)?.sha256).toBe(VIDEO_SHA);
    // Attempt 2 asked the saved session and went on at byte 524288: the first chunk was sent once.
    const chunks = chunksOf(session?.id ?? '');
    expect(chunks.filter((c) => c.outcome === 'ok').map((c) => c.start)).toEqual([0, CHUNK, 2 * CHUNK]);
    expect(chunks.filter((c) => c.outcome === 'failed').map((c) => c.start)).toEqual(Array(5).fill(CHUNK));
    // The upload step saved the session before sending; its final result names the video.
    const step = present(await t.env.db('job_steps').where({ job_id: id, name: 'upload' }).first());
    expect(step.status).toBe('succeeded');
    expect(step.result).toMatchObject({ video_id: session?.videoId });
  });

  it('when the channel revoked access, then the job fails with youtube_disconnected without retrying', async () => {
    const { tenantId, renderId, refreshToken } = await seed();
    const before = google.sessions.size;
    const known = google.refreshTokens.get(refreshToken);
    if (known) known.revoked = true;
    const id = await publish(tenantId, renderId);
    const job = await t.waitFor(id, ['succeeded', 'failed']);
    expect(job.status).toBe('failed');
    expect(job.error_code).toBe('youtube_disconnected');
    expect(job.attempts).toBe(1);
    expect(google.sessions.size).toBe(before);
  });
});

describe('account deletion and the YouTube grant', () => {
  it('when a connected tenant is deleted, then its grant is revoked at Google before the token is erased', async () => {
    const { tenantId, refreshToken } = await seed();
    const id = newId('job');
    const payload = { requested_by: null, scheduled_for: new Date().toISOString() };
    await t.env
      .db('jobs')
      .insert({ id, tenant_id: tenantId, kind: 'deletion', payload: JSON.stringify(payload) });
    const services = {
      config: t.env.config,
      db: t.env.db,
      logger: createLogger('silent', 'test'),
      storage: createLocalStorage(t.env.config.STORAGE_DIR),
    } as unknown as StepServices;
    const run = await runSteps([revokeIntegrations], { services, job: await loadJob(t.env.db, id), payload });
    expect(run.results['revoke-integrations']).toEqual({ youtube: 'revoked' });
    expect(google.revocations).toContain(refreshToken);
    // Asked again (a resumed deletion): Google says invalid_token, which is what we wanted.
    const again = await runSteps([revokeIntegrations], {
      services,
      job: await loadJob(t.env.db, id),
      payload,
    });
    expect(again.results['revoke-integrations']).toEqual({ youtube: 'revoked' });
  });
});
