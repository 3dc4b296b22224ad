import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bullPrefix } from '../../../shared/queue/queues.ts';
import { present } from '../../../shared/testing/present.ts';
import { type JobsTestKit, startJobsTestKit } from './jobs-test-kit.ts';

let k: JobsTestKit;
beforeAll(async () => {
  k = await startJobsTestKit();
});
afterAll(async () => {
  await k.t.close();
});

describe('cancel of a queued job with a callback_url', () => {
  it('when a queued render is canceled, then its job.canceled callback is recorded and queued for delivery', async () => {
    const r = await k.t.call('POST', '/v1/renders', {
      token: k.keys.member,
      body: {
        scenes: [{ title: 'never runs', duration: 1 }],
        callback_url: 'https://hooks.example.com/rendermill',
      },
    });
    expect(r.status).toBe(202);
    const id = r.body.id as string;
    expect((await k.t.call('POST', `/v1/jobs/${id}/cancel`, { token: k.keys.member })).status).toBe(202);

    const delivery = present(await k.t.env.db('webhook_deliveries').where({ job_id: id }).first());
    expect(delivery).toMatchObject({
      event: 'job.canceled',
      status: 'pending',
      url: 'https://hooks.example.com/rendermill',
    });
    expect(delivery.payload).toMatchObject({
      type: 'job.canceled',
      data: { job: { id, status: 'canceled' } },
    });
    const queue = k.t.api.deps.producer.queue('callbacks');
    expect(queue.opts.prefix).toBe(bullPrefix(k.t.env.config.REDIS_PREFIX));
    expect(await queue.getJob(delivery.id)).toBeTruthy();
    // a second cancel is a 409 and records nothing more
    expect((await k.t.call('POST', `/v1/jobs/${id}/cancel`, { token: k.keys.member })).status).toBe(409);
    expect(await k.t.env.db('webhook_deliveries').where({ job_id: id })).toHaveLength(1);
  });
});
