import { createHash, randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { TEST_REDIS_URL } from '../testing/test-env.ts';
import { luaScript } from './lua-script.ts';
import { createRedis } from './redis.ts';

const redis = createRedis(TEST_REDIS_URL);
afterAll(() => redis.disconnect());

describe('luaScript', () => {
  it('when Redis does not know the script, then it is sent once as text and by hash after that', async () => {
    // A script no server has seen: a random comment changes its hash.
    const lua = `-- ${randomBytes(8).toString('hex')}\nreturn {KEYS[1], ARGV[1]}`;
    const sha = createHash('sha1').update(lua).digest('hex');
    const run = luaScript(lua);
    expect(await redis.script('EXISTS', sha)).toEqual([0]);
    expect(await run(redis, ['k'], ['v'])).toEqual(['k', 'v']);
    expect(await redis.script('EXISTS', sha)).toEqual([1]);
    expect(await run(redis, ['k2'], [2])).toEqual(['k2', '2']);
  });

  it('when the script fails, then its error is thrown, not hidden by the fallback', async () => {
    const run = luaScript(`-- ${randomBytes(8).toString('hex')}\nreturn redis.error_reply('boom')`);
    await expect(run(redis, [], [])).rejects.toThrow('boom');
  });
});
