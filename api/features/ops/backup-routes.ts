import { Router } from 'express';
import type { Knex } from 'knex';
import { backupStatus } from '../../../shared/backup/backup-store.ts';
import { opsBasicAuth } from './ops-auth.ts';

export const BACKUPS_PATH = '/v1/ops/backups';

/**
 * GET /v1/ops/backups (operator Basic auth, like /admin/queues): the last verified backup and the
 * latest runs, from the `backups` log `npm run backup` writes. Off (404) unless OPS_TOKEN is set.
 */
export function backupRoutes(deps: { db: Knex; opsToken?: string }): Router {
  const r = Router();
  if (!deps.opsToken) return r;
  r.get(BACKUPS_PATH, opsBasicAuth(deps.opsToken, 'The backup status'), async (_req, res) => {
    res.json(await backupStatus(deps.db));
  });
  return r;
}
