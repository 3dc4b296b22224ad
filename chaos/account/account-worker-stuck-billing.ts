import type { Config } from '../../shared/config/config.ts';
import { startAccountWorker } from './account-worker.ts';

/** The account worker with a Stripe that never answers: a deletion stops at `close-billing` until killed. */
export const start = (config: Config) =>
  startAccountWorker(config, { billing: { deleteCustomer: () => new Promise<void>(() => {}) } });
