import { readFixture } from '../../../shared/testing/fixtures.ts';
import { type SignIn, startTestApi, type TestApi } from '../../testing/api-harness.ts';

/** The shared happy-path body (`load/fixtures/render-short.json`). */
export async function readRenderShort(): Promise<Record<string, unknown>> {
  return readFixture('render-short');
}

export interface JobsTestKit {
  t: TestApi;
  owner: SignIn;
  /** API keys of the owner's tenant, by role. */
  keys: { viewer: string; member: string; admin: string };
  /** A second tenant, for the tenant-wall checks. */
  other: SignIn;
}

/**
 * The real API on this file's own database and Redis prefix, with an owner, keys for the lesser
 * roles and a second tenant. Rate limits are raised: these tests submit dozens of jobs a second.
 */
export async function startJobsTestKit(overrides: Record<string, string> = {}): Promise<JobsTestKit> {
  const t = await startTestApi({
    RATE_LIMIT_PER_MINUTE: '100000',
    RATE_LIMIT_BURST_PER_SECOND: '10000',
    ...overrides,
  });
  const owner = await t.signIn('owner@jobs.example.com');
  const key = async (role: string) => {
    const r = await t.call('POST', '/v1/api-keys', { token: owner.access_token, body: { name: role, role } });
    if (r.status !== 201) throw new Error(`api key answered ${r.status}: ${r.text}`);
    return r.body.key as string;
  };
  const keys = { viewer: await key('viewer'), member: await key('member'), admin: await key('admin') };
  const other = await t.signIn('someone@other.example.com');
  return { t, owner, keys, other };
}
