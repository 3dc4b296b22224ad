import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../../shared/ids/ids.ts';
import { createSecretBox } from '../../../shared/integrations/secret-box.ts';
import { type FakeGoogle, startFakeGoogle } from '../../../shared/testing/fake-google.ts';
import { present } from '../../../shared/testing/present.ts';
import { type SignIn, startTestApi, type TestApi } from '../../testing/api-harness.ts';

const KEY = randomBytes(32).toString('hex');

let google: FakeGoogle;
let t: TestApi;
let owner: SignIn;
beforeAll(async () => {
  google = await startFakeGoogle();
  t = await startTestApi({
    ...google.env,
    INTEGRATIONS_ENCRYPTION_KEY: KEY,
    RATE_LIMIT_PER_MINUTE: '100000',
    RATE_LIMIT_BURST_PER_SECOND: '10000',
  });
  owner = await t.signIn('owner@youtube.example.com');
});
afterAll(async () => {
  await t?.close();
  await google?.close();
});

const setPlan = (tenantId: string, plan: string) =>
  t.env.db('tenants').update({ plan }).where({ id: tenantId });

/** What the browser does: opens the consent URL (the fake consents at once) and follows Google's redirect back to us. */
async function consent(authorizeUrl: string, tamper?: (u: URL) => void) {
  const u = new URL(authorizeUrl);
  tamper?.(u);
  const atGoogle = await fetch(u, { redirect: 'manual' });
  const back = new URL(atGoogle.headers.get('location') ?? '');
  return t.call('GET', `${back.pathname}${back.search}`);
}

/** A succeeded render with a kept output, as the worker leaves it. */
async function succeededRender(tenantId: string): Promise<string> {
  const id = newId('job');
  await t.env.db('jobs').insert({
    id,
    tenant_id: tenantId,
    kind: 'render',
    status: 'succeeded',
    progress: 1,
    payload: JSON.stringify({}),
    output_key: `tenants/${tenantId}/outputs/${id}.mp4`,
    output_content_type: 'video/mp4',
    output_bytes: 1000,
    finished_at: new Date(),
  });
  return id;
}

describe('YouTube connection and publishing', () => {
  it('when the tenant is on free, then connecting and publishing answer 403 upgrade_required', async () => {
    await setPlan(owner.tenant.id, 'free');
    const connect = await t.call('GET', '/v1/integrations/youtube/connect', { token: owner.access_token });
    expect(connect.status).toBe(403);
    expect(connect.body).toMatchObject({ code: 'upgrade_required', feature: 'youtube_publish', plan: 'pro' });
    const render = await succeededRender(owner.tenant.id);
    const publish = await t.call('POST', `/v1/jobs/${render}/publish`, {
      token: owner.access_token,
      body: { destination: 'youtube', title: 'Nope' },
    });
    expect(publish.status).toBe(403);
    expect(publish.body).toMatchObject({ code: 'upgrade_required', feature: 'youtube_publish' });
  });

  it('when the code_verifier does not match the challenge Google saw, then the exchange is refused and nothing is stored', async () => {
    await setPlan(owner.tenant.id, 'pro');
    const connect = await t.call<{ authorize_url: string }>('GET', '/v1/integrations/youtube/connect', {
      token: owner.access_token,
    });
    expect(connect.status).toBe(200);
    const back = await consent(connect.body.authorize_url, (u) =>
      u.searchParams.set('code_challenge', 'A'.repeat(43)),
    );
    expect(back.status).toBe(302);
    expect(back.headers.get('location')).toBe(
      'http://rendermill.test/account?youtube=error&reason=exchange_failed',
    );
    expect(google.tokenRequests.at(-1)).toEqual({
      grant_type: 'authorization_code',
      ok: false,
      error: 'invalid_grant',
    });
    expect(
      await t.env.db('youtube_connections').where({ tenant_id: owner.tenant.id }).first(),
    ).toBeUndefined();
  });

  it('when an admin connects, publishes twice and disconnects, then the token is stored encrypted, one job is queued and the grant is revoked', async () => {
    await setPlan(owner.tenant.id, 'pro');
    const connect = await t.call<{ authorize_url: string; expires_at: string }>(
      'GET',
      '/v1/integrations/youtube/connect',
      { token: owner.access_token },
    );
    expect(connect.status).toBe(200);
    const url = new URL(connect.body.authorize_url);
    expect(`${url.origin}${url.pathname}`).toBe(google.env.GOOGLE_OAUTH_AUTHORIZE_URL);
    expect(Object.fromEntries(url.searchParams)).toMatchObject({
      client_id: google.clientId,
      redirect_uri: 'http://rendermill.test/v1/integrations/youtube/callback',
      response_type: 'code',
      scope: 'https://www.googleapis.com/auth/youtube.upload',
      access_type: 'offline',
      prompt: 'consent',
      code_challenge_method: 'S256',
    });
    expect(url.searchParams.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const state = url.searchParams.get('state') ?? '';
    // The state and verifier are kept server-side, the state only as a hash.
    const pending = await t.env.db('youtube_oauth_states').where({ tenant_id: owner.tenant.id });
    expect(JSON.stringify(pending)).not.toContain(state);

    const back = await consent(connect.body.authorize_url);
    expect(back.status).toBe(302);
    expect(back.headers.get('location')).toBe('http://rendermill.test/account?youtube=connected');
    expect(google.tokenRequests.at(-1)).toEqual({ grant_type: 'authorization_code', ok: true });
    // A state works once.
    const replay = await t.call('GET', `/v1/integrations/youtube/callback?code=x&state=${state}`);
    expect(replay.headers.get('location')).toContain('reason=invalid_state');

    const [refreshToken] = [...google.refreshTokens.keys()].slice(-1);
    const row = present(await t.env.db('youtube_connections').where({ tenant_id: owner.tenant.id }).first());
    expect(JSON.stringify(row)).not.toContain(refreshToken);
    expect(createSecretBox(KEY).open(row.refresh_token_encrypted, owner.tenant.id)).toBe(refreshToken);
    // Bound to the tenant: the same ciphertext does not open as another tenant's.
    expect(() => createSecretBox(KEY).open(row.refresh_token_encrypted, 'ten_other')).toThrow();

    const status = await t.call('GET', '/v1/integrations/youtube', { token: owner.access_token });
    expect(status.body).toMatchObject({ connected: true, connected_by: owner.user.id });

    const render = await succeededRender(owner.tenant.id);
    const body = { destination: 'youtube', title: 'Launch', description: 'Our launch', privacy: 'unlisted' };
    const first = await t.call<{ id: string; kind: string; status: string }>(
      'POST',
      `/v1/jobs/${render}/publish`,
      {
        token: owner.access_token,
        body,
      },
    );
    expect(first.status).toBe(202);
    expect(first.body).toMatchObject({ kind: 'publish', status: 'queued', result: null });
    const again = await t.call<{ id: string }>('POST', `/v1/jobs/${render}/publish`, {
      token: owner.access_token,
      body,
    });
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(first.body.id);
    const queued = await t.env.db('jobs').where({ tenant_id: owner.tenant.id, kind: 'publish' });
    expect(queued).toHaveLength(1);
    const publish = present(queued[0]);
    expect(publish.payload).toMatchObject({ source_job_id: render, title: 'Launch', privacy: 'unlisted' });
    expect(publish.enqueued_at).not.toBeNull();

    const badTitle = await t.call('POST', `/v1/jobs/${render}/publish`, {
      token: owner.access_token,
      body: { destination: 'youtube', title: '<script>' },
    });
    expect(badTitle.status).toBe(400);
    expect(JSON.stringify(badTitle.body)).toContain('/title');
    const missing = await t.call('POST', '/v1/jobs/job_nope/publish', { token: owner.access_token, body });
    expect(missing.status).toBe(404);

    const gone = await t.call('DELETE', '/v1/integrations/youtube', { token: owner.access_token });
    expect(gone.status).toBe(204);
    expect(google.revocations).toContain(refreshToken);
    expect(
      await t.env.db('youtube_connections').where({ tenant_id: owner.tenant.id }).first(),
    ).toBeUndefined();
    expect(
      (await t.call('GET', '/v1/integrations/youtube', { token: owner.access_token })).body,
    ).toMatchObject({
      connected: false,
    });
    const actions = (await t.env.db('audit_log').where({ tenant_id: owner.tenant.id }).select('action')).map(
      (a: { action: string }) => a.action,
    );
    expect(actions).toEqual(
      expect.arrayContaining([
        'integration.youtube_connected',
        'job.publish_requested',
        'integration.youtube_disconnected',
      ]),
    );
    // Publishing without a channel: 409 naming the way out.
    const other = await succeededRender(owner.tenant.id);
    const unconnected = await t.call('POST', `/v1/jobs/${other}/publish`, {
      token: owner.access_token,
      body,
    });
    expect(unconnected.status).toBe(409);
  });
});

describe('YouTube connection without INTEGRATIONS_ENCRYPTION_KEY', () => {
  let bare: TestApi;
  beforeAll(async () => {
    bare = await startTestApi({ ...google.env });
  });
  afterAll(async () => {
    await bare?.close();
  });

  it('when an admin asks to connect, then it answers 503 naming the missing variable', async () => {
    const admin = await bare.signIn('owner@nokey.example.com');
    await bare.env.db('tenants').update({ plan: 'pro' }).where({ id: admin.tenant.id });
    const r = await bare.call('GET', '/v1/integrations/youtube/connect', { token: admin.access_token });
    expect(r.status).toBe(503);
    expect(r.headers.get('content-type')).toContain('application/problem+json');
    expect(JSON.stringify(r.body)).toContain('INTEGRATIONS_ENCRYPTION_KEY');
  });
});
