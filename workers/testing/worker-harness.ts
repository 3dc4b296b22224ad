import { newId } from '../../shared/ids/ids.ts';
import { estimateImage, estimateRender, estimateTts } from '../../shared/jobs/estimate.ts';
import type { JobRow } from '../../shared/jobs/job-contract.ts';
import { imageRequestSchema, renderRequestSchema, ttsRequestSchema } from '../../shared/jobs/job-requests.ts';
import { createProducer, type Producer } from '../../shared/queue/producer.ts';
import { createRedis } from '../../shared/redis/redis.ts';
import { present } from '../../shared/testing/present.ts';
import { createTestEnv, type TestEnv } from '../../shared/testing/test-env.ts';
import { newWebhookSecret } from '../../shared/webhooks/signing.ts';
import { start, type WorkerProcess } from '../main.ts';

export type JobSnapshot = Pick<
  JobRow,
  | 'id'
  | 'status'
  | 'progress'
  | 'attempts'
  | 'error_code'
  | 'error_message'
  | 'output_key'
  | 'output_bytes'
  | 'output_duration_seconds'
>;

export interface TestWorker {
  env: TestEnv;
  worker: WorkerProcess;
  producer: Producer;
  /** A tenant row to own jobs. */
  tenant(): Promise<string>;
  /** Inserts a job as the API would (row, then enqueue) and returns its id. */
  submit(tenantId: string, kind: 'render' | 'tts' | 'image', request: unknown): Promise<string>;
  job(id: string): Promise<JobSnapshot>;
  waitFor(
    id: string,
    statuses: string[],
    timeoutMs?: number,
    onPoll?: (j: JobSnapshot) => void,
  ): Promise<JobSnapshot>;
  close(): Promise<void>;
}

const parsers = {
  render: (r: unknown) => {
    const p = renderRequestSchema.parse(r);
    return { payload: p, estimate: estimateRender(p), callback: p.callback_url };
  },
  tts: (r: unknown) => {
    const p = ttsRequestSchema.parse(r);
    return { payload: p, estimate: estimateTts(p), callback: p.callback_url };
  },
  image: (r: unknown) => {
    const p = imageRequestSchema.parse(r);
    return { payload: p, estimate: estimateImage(p), callback: p.callback_url };
  },
};

/** Boots a real worker process-in-process on this file's own database and Redis prefix. */
export async function startTestWorker(overrides: Record<string, string> = {}): Promise<TestWorker> {
  const env = await createTestEnv({ JOB_BACKOFF_SCALE: '0.01', FETCH_ALLOW_PRIVATE: '', ...overrides });
  const worker = await start(env.config);
  const connection = createRedis(env.config.redisTarget);
  const producer = createProducer(connection, env.config.REDIS_PREFIX, { fairShare: env.config.FAIR_SHARE });
  const job = async (id: string) => present(await env.db('jobs').where({ id }).first(), `job ${id}`);
  return {
    env,
    worker,
    producer,
    async tenant() {
      const id = newId('ten');
      await env.db('tenants').insert({ id, name: 'Test', webhook_secret: newWebhookSecret() });
      return id;
    },
    async submit(tenantId, kind, request) {
      const { payload, estimate, callback } = parsers[kind](request);
      const id = newId('job');
      await env.db('jobs').insert({
        id,
        tenant_id: tenantId,
        kind,
        payload: JSON.stringify(payload),
        estimate: JSON.stringify(estimate),
        callback_url: callback ?? null,
      });
      await producer.enqueueJob({ id, tenant_id: tenantId, kind });
      return id;
    },
    job,
    async waitFor(id, statuses, timeoutMs = 60_000, onPoll) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const j = await job(id);
        onPoll?.(j);
        if (statuses.includes(j.status)) return j;
        if (Date.now() > deadline)
          throw new Error(`job ${id} still ${j.status} (wanted ${statuses.join('|')})`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async close() {
      await worker.stop();
      await producer.close();
      connection.disconnect();
      await env.cleanup();
    },
  };
}
