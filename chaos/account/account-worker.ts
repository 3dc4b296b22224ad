import type { Config } from '../../shared/config/config.ts';
import { QUEUES } from '../../shared/queue/queues.ts';
import type { AccountBilling } from '../../workers/jobs/step.ts';
import { start as startWorker } from '../../workers/main.ts';

/**
 * The worker process of `workers/main.ts` on the `account` queue alone, one job at a time, so
 * chaos scenarios can run it as a real process — and kill it — with a billing hook of their choosing.
 */
export function startAccountWorker(config: Config, extra: { billing?: AccountBilling } = {}) {
  return startWorker(config, {
    queues: [QUEUES.account],
    concurrency: 1,
    services: extra.billing ? { billing: extra.billing } : {},
  });
}

export const start = (config: Config) => startAccountWorker(config);
