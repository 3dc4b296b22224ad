import { createHash } from 'node:crypto';
import type { RedisClient } from './redis.ts';

type Arg = string | number;

/**
 * A Lua script sent by its SHA-1 (EVALSHA), so a hot script costs 40 bytes a call instead of its
 * whole text; a server that does not know it yet (NOSCRIPT: first call, restart, another cluster
 * node) gets the text once with EVAL, which also caches it there. What ioredis' defineCommand
 * does, without adding a command to the shared client's type.
 */
export function luaScript(lua: string) {
  const sha = createHash('sha1').update(lua).digest('hex');
  return async (redis: RedisClient, keys: readonly string[], args: readonly Arg[]): Promise<unknown> => {
    try {
      return await redis.evalsha(sha, keys.length, ...keys, ...args);
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
      return redis.eval(lua, keys.length, ...keys, ...args);
    }
  };
}
