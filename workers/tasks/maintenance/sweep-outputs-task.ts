import { releaseStorage } from '../../../shared/metering/usage-counters.ts';
import type { WorkerServices } from '../../jobs/services.ts';

/**
 * outputs.sweep — deletes outputs past their retention (OUTPUT_RETENTION_DAYS, or 24 h for
 * exports) and marks them deleted, so `GET /v1/jobs/:id` shows no output and storage usage falls.
 */
export async function sweepExpiredOutputs(services: WorkerServices): Promise<number> {
  const { db, storage, logger } = services;
  const expired = await db('jobs')
    .select('id', 'tenant_id', 'output_key', 'output_bytes')
    .whereNotNull('output_key')
    .whereNull('output_deleted_at')
    .where('output_expires_at', '<=', db.fn.now())
    .limit(1000);
  for (const row of expired) {
    await storage.delete(row.output_key);
    // Marked and released together: stored bytes fall exactly once per output.
    await db.transaction(async (trx) => {
      const n = await trx('jobs')
        .update({ output_deleted_at: trx.fn.now() })
        .where({ id: row.id })
        .whereNull('output_deleted_at');
      if (n > 0) await releaseStorage(trx, row.tenant_id, Number(row.output_bytes ?? 0));
    });
  }
  if (expired.length) logger.info({ count: expired.length }, 'expired outputs deleted');
  return expired.length;
}
