import type { Queue } from 'bullmq';
import { luaScript } from '../redis/lua-script.ts';
import type { RedisClient } from '../redis/redis.ts';

/**
 * Fair share between tenants, on top of open-source BullMQ (which has no groups).
 *
 * Jobs of the fair queues (render, media) do not go into BullMQ when submitted: each tenant has
 * a waiting list in Redis, and a dispatcher moves jobs from those lists into the shared BullMQ
 * queue only as fast as workers take them, keeping at most `prefetch` jobs waiting there. Which
 * tenant's job goes next is decided by one atomic Lua script — deficit round-robin over the
 * tenants with waiting work, each tenant's quantum weighted by its plan's priority — so any
 * number of API and worker replicas can enqueue and dispatch at once.
 *
 * Invariants (tested in fair-share.test.ts):
 * - A job is in at most one place: its tenant's list (and the `held` set) or BullMQ. Enqueueing
 *   an id that is held is a no-op, so the API and the reconciler may both enqueue it.
 * - Every tenant with waiting work is in the ring exactly once; a tenant whose list empties
 *   leaves the ring and its deficit is reset (classic DRR: no credit is banked while idle).
 * - Over any stretch where tenants stay backlogged, each gets jobs in proportion to its weight
 *   (±1 quantum).
 * - Postgres stays the truth: losing every key here loses no job. The reconciler finds queued
 *   rows that are neither held here nor in BullMQ and enqueues them again.
 *
 * All keys share the `{bull}` hash tag with the BullMQ queues, so the scripts work on a Redis
 * Cluster.
 */
export interface FairEntry {
  jobId: string;
  tenantId: string;
  /** BullMQ job name (render.run, tts.run, …). */
  name: string;
  /** BullMQ priority to add it with (0 = none). */
  priority: number;
  /** DRR weight: a tenant of weight 2 gets twice the jobs of weight 1 while both wait. */
  weight: number;
}

/** A plan priority (BullMQ's: 1 highest … larger lower, 0 none) as a DRR weight: 10 / priority, at least 1. */
export function weightOfPriority(priority: number | null | undefined): number {
  if (!priority || priority <= 0) return 1;
  return Math.max(1, Math.round(10 / priority));
}

// KEYS: 1 ring (list of tenant ids), 2 members (set of tenants in the ring), 3 held (set of job
// ids), 4 weights (hash), 5 the tenant's list. ARGV: tenant id, job id, entry, weight.
const ENQUEUE = `
if redis.call('SADD', KEYS[3], ARGV[2]) == 0 then return 0 end
redis.call('RPUSH', KEYS[5], ARGV[3])
redis.call('HSET', KEYS[4], ARGV[1], ARGV[4])
if redis.call('SADD', KEYS[2], ARGV[1]) == 1 then redis.call('RPUSH', KEYS[1], ARGV[1]) end
return 1
`;

// KEYS: 1 ring, 2 members, 3 held, 4 weights, 5 deficits (hash), 6 turn (string: the tenant whose
// quantum was added this turn). ARGV: max jobs to pick, list key prefix, quantum.
// Deficit round-robin with every job costing 1: at the start of its turn a tenant's deficit grows
// by quantum × weight; it is served while the deficit covers a job, then moves to the back.
const PICK = `
-- The ring's head tenant ran dry: it leaves the ring, its deficit and turn are reset.
local function leave(tenant)
  redis.call('LPOP', KEYS[1])
  redis.call('SREM', KEYS[2], tenant)
  redis.call('HDEL', KEYS[5], tenant)
  redis.call('HDEL', KEYS[4], tenant)
  redis.call('DEL', KEYS[6])
end
local want = tonumber(ARGV[1])
local out = {}
local guard = 0
while #out < want and guard < 10000 do
  guard = guard + 1
  local tenant = redis.call('LINDEX', KEYS[1], 0)
  if not tenant then break end
  local list = ARGV[2] .. tenant
  if redis.call('LLEN', list) == 0 then
    leave(tenant)
  else
    if redis.call('GET', KEYS[6]) ~= tenant then
      local w = tonumber(redis.call('HGET', KEYS[4], tenant) or '1') or 1
      redis.call('HINCRBYFLOAT', KEYS[5], tenant, tonumber(ARGV[3]) * w)
      redis.call('SET', KEYS[6], tenant)
    end
    local deficit = tonumber(redis.call('HGET', KEYS[5], tenant) or '0')
    if deficit >= 1 then
      local entry = redis.call('LPOP', list)
      redis.call('HINCRBYFLOAT', KEYS[5], tenant, -1)
      local id = string.match(entry, '^([^|]*)')
      redis.call('SREM', KEYS[3], id)
      table.insert(out, entry)
      if redis.call('LLEN', list) == 0 then
        leave(tenant)
      end
    else
      redis.call('LMOVE', KEYS[1], KEYS[1], 'LEFT', 'RIGHT')
      redis.call('DEL', KEYS[6])
    end
  end
end
return out
`;

// KEYS: 1 ring, 2 members, 3 held, 4 weights, 5 deficits, 6 turn, 7 the tenant's list. ARGV: tenant.
const FORGET = `
local entries = redis.call('LRANGE', KEYS[7], 0, -1)
for _, e in ipairs(entries) do redis.call('SREM', KEYS[3], string.match(e, '^([^|]*)')) end
redis.call('DEL', KEYS[7])
redis.call('LREM', KEYS[1], 0, ARGV[1])
redis.call('SREM', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[4], ARGV[1])
redis.call('HDEL', KEYS[5], ARGV[1])
if redis.call('GET', KEYS[6]) == ARGV[1] then redis.call('DEL', KEYS[6]) end
return #entries
`;

// KEYS: 1 held, 2 the tenant's list. ARGV: job id. The ring forgets an emptied tenant at its next turn.
const REMOVE = `
if redis.call('SREM', KEYS[1], ARGV[1]) == 0 then return 0 end
for _, e in ipairs(redis.call('LRANGE', KEYS[2], 0, -1)) do
  if string.sub(e, 1, #ARGV[1] + 1) == ARGV[1] .. '|' then
    redis.call('LREM', KEYS[2], 1, e)
    return 1
  end
end
return 1
`;

export interface FairShare {
  /** Puts a job on its tenant's waiting list; false when it was already held. */
  enqueue(queue: string, entry: FairEntry): Promise<boolean>;
  /** Takes up to `n` jobs in fair order off the waiting lists (without adding them to BullMQ). */
  pick(queue: string, n: number): Promise<FairEntry[]>;
  /** Takes one job off its tenant's list (a cancel); false when it was not there. */
  remove(queue: string, tenantId: string, jobId: string): Promise<boolean>;
  /** Whether the job is on a waiting list. */
  holds(queue: string, jobId: string): Promise<boolean>;
  /** Removes a tenant's waiting jobs (account deletion); returns how many. */
  forgetTenant(queue: string, tenantId: string): Promise<number>;
  /** Jobs waiting per tenant (for metrics and tests). */
  waiting(queue: string): Promise<Record<string, number>>;
  /**
   * Tops BullMQ's queue up to `prefetch` waiting jobs from the lists, under a short lock so
   * concurrent dispatchers do not overshoot. Returns how many it moved.
   */
  dispatch(queue: Queue, prefetch: number, add: (q: Queue, e: FairEntry) => Promise<void>): Promise<number>;
}

/** DRR quantum per unit of weight, in jobs. */
const QUANTUM = 1;
// Every submit runs ENQUEUE and every dispatch PICK: sent by hash, not as text.
const enqueueScript = luaScript(ENQUEUE);
const pickScript = luaScript(PICK);

export function createFairShare(redis: RedisClient, redisPrefix: string): FairShare {
  const base = (queue: string) => `${redisPrefix}:{bull}:fair:${queue}`;
  const keys = (queue: string) => {
    const b = base(queue);
    return [`${b}:ring`, `${b}:members`, `${b}:held`, `${b}:weights`, `${b}:deficits`, `${b}:turn`];
  };
  const listKey = (queue: string, tenantId: string) => `${base(queue)}:t:${tenantId}`;
  const encode = (e: FairEntry) => [e.jobId, e.tenantId, e.name, e.priority, e.weight].join('|');
  const decode = (s: string): FairEntry => {
    const [jobId = '', tenantId = '', name = '', priority = '0', weight = '1'] = s.split('|');
    return { jobId, tenantId, name, priority: Number(priority), weight: Number(weight) };
  };

  const self: FairShare = {
    async enqueue(queue, e) {
      const [ring, members, held, weights] = keys(queue);
      const added = await enqueueScript(
        redis,
        [ring!, members!, held!, weights!, listKey(queue, e.tenantId)],
        [e.tenantId, e.jobId, encode(e), String(e.weight)],
      );
      return added === 1;
    },
    async pick(queue, n) {
      if (n <= 0) return [];
      const out = (await pickScript(redis, keys(queue), [String(n), `${base(queue)}:t:`, String(QUANTUM)])) as
        | string[]
        | null;
      return (out ?? []).map(decode);
    },
    async remove(queue, tenantId, jobId) {
      const [, , held] = keys(queue);
      return (await redis.eval(REMOVE, 2, held!, listKey(queue, tenantId), jobId)) === 1;
    },
    async holds(queue, jobId) {
      return (await redis.sismember(keys(queue)[2]!, jobId)) === 1;
    },
    async forgetTenant(queue, tenantId) {
      return Number(await redis.eval(FORGET, 7, ...keys(queue), listKey(queue, tenantId), tenantId));
    },
    async waiting(queue) {
      const tenants = await redis.lrange(keys(queue)[0]!, 0, -1);
      const out: Record<string, number> = {};
      for (const t of tenants) out[t] = await redis.llen(listKey(queue, t));
      return out;
    },
    async dispatch(queue, prefetch, add) {
      const lock = `${base(queue.name)}:lock`;
      const token = `${process.pid}:${Math.random()}`;
      if ((await redis.set(lock, token, 'PX', 2_000, 'NX')) !== 'OK') return 0;
      try {
        const counts = await queue.getJobCounts('waiting', 'prioritized');
        const room = prefetch - (counts.waiting ?? 0) - (counts.prioritized ?? 0);
        const picked = await self.pick(queue.name, room);
        // A failed add leaves the job in neither place: the reconciler re-enqueues it from Postgres.
        for (const e of picked) await add(queue, e);
        return picked.length;
      } finally {
        // Release only our own lock (it may have expired and been taken by another dispatcher).
        await redis
          .eval(
            "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0",
            1,
            lock,
            token,
          )
          .catch(() => undefined);
      }
    },
  };
  return self;
}
