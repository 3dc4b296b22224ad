import type { Knex } from 'knex';
import type { Logger } from '../../../shared/logging/logger.ts';
import { sweepUnsettled } from '../../../shared/metering/quota-service.ts';

/**
 * reservations.sweep — scheduled every minute: releases the quota reservations of jobs that
 * reached a final status without settling them, and of jobs that no longer exist (see
 * `sweepUnsettled`).
 * Safe to run concurrently with itself: each reservation is finished once.
 */
export async function sweepReservations(deps: { db: Knex; logger: Logger }): Promise<number> {
  const swept = await sweepUnsettled(deps.db);
  if (swept > 0) deps.logger.info({ swept }, 'unsettled reservations released');
  return swept;
}
