import { createJobRepository } from '../../../shared/jobs/job-repository.ts';
import { releaseStorage } from '../../../shared/metering/usage-counters.ts';
import type { WorkerServices } from '../../jobs/services.ts';

/**
 * outputs.sweep — deletes outputs past their retention (OUTPUT_RETENTION_DAYS, or 24 h for
 * exports) and marks them deleted, so `GET /v1/jobs/:id` shows no output and storage usage falls.
 */
export async function sweepExpiredOutputs(services: WorkerServices): Promise<number> {
  const { db, storage, logger } = services;
  const jobs = createJobRepository();
  const expired = await jobs.expiredOutputs(db, 1000);
  for (const row of expired) {
    await storage.delete(row.output_key);
    // Marked and released together: stored bytes fall exactly once per output.
    await db.transaction(async (trx) => {
      if (await jobs.markOutputDeleted(trx, row.id))
        await releaseStorage(trx, row.tenant_id, Number(row.output_bytes ?? 0));
    });
  }
  if (expired.length) logger.info({ count: expired.length }, 'expired outputs deleted');
  return expired.length;
}
