import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Mail } from '../shared/mail/mailer.ts';
import { createTestEnv, type TestEnv } from '../shared/testing/test-env.ts';
import { start } from './main.ts';

let env: TestEnv;
beforeAll(async () => {
  env = await createTestEnv();
});
afterAll(async () => {
  await env.cleanup();
});

describe('api/main start(config, overrides)', () => {
  it('when a mailer is given, then the API sends through it, and stop() leaves it to its owner', async () => {
    const sent: Mail[] = [];
    let closed = false;
    const mailer = {
      send: async (m: Mail) => {
        sent.push(m);
      },
      close: () => {
        closed = true;
      },
    };
    const api = await start(env.config, { mailer });
    try {
      const res = await fetch(`${api.url}/v1/auth/magic-link`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: 'given-mailer@example.com' }),
      });
      expect(res.status).toBe(202);
    } finally {
      // stop() waits for the sign-in mail, which is sent after the 202.
      await api.stop();
    }
    expect(sent.map((m) => m.to)).toEqual(['given-mailer@example.com']);
    expect(closed).toBe(false);
  });
});
