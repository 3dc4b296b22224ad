import type { Knex } from 'knex';
import { withTimeout } from '../../../shared/async/with-timeout.ts';
import { type AuditEntry, appendAudit } from '../../../shared/audit/audit-log.ts';
import { ConflictError, NotFoundError } from '../../../shared/errors/http-errors.ts';
import { newId } from '../../../shared/ids/ids.ts';
import type { YoutubeConnectionStore } from '../../../shared/integrations/youtube-connection-store.ts';
import type { JobRepository } from '../../../shared/jobs/job-repository.ts';
import type { PublishRequest } from '../../../shared/jobs/publish-request.ts';
import type { Logger } from '../../../shared/logging/logger.ts';
import type { PlanCatalogue } from '../../../shared/metering/plans.ts';
import type { Producer } from '../../../shared/queue/producer.ts';
import { requireYoutubePlan } from '../integrations/youtube-service.ts';
import { hasLiveOutput, type JobView } from '../jobs/job-serializer.ts';
import type { JobService } from '../jobs/job-service.ts';

export interface PublishActor {
  tenantId: string;
  actorId: string | null;
  audit: Pick<AuditEntry, 'actorType' | 'actorId' | 'requestId' | 'ip'>;
}

export type PublishBody = Pick<PublishRequest, 'destination' | 'title' | 'description' | 'privacy'>;

/**
 * `POST /v1/jobs/:id/publish`: a `publish` job (run by the workers' `publish.youtube`) that uploads
 * a succeeded render's output. While one publish of the same video to the same destination is
 * queued or running, asking again answers that job: a double click does not upload twice.
 */
export function createPublishService(deps: {
  db: Knex;
  jobStore: JobRepository;
  connections: YoutubeConnectionStore;
  jobs: JobService;
  producer: Producer;
  plans: PlanCatalogue;
  logger: Logger;
  queueTimeoutMs?: number;
}) {
  const { db, jobStore, logger } = deps;
  return {
    async publish(
      actor: PublishActor,
      sourceJobId: string,
      body: PublishBody,
    ): Promise<{ job: JobView; created: boolean }> {
      // Another tenant's id reads as absent before any plan talk (tenant isolation answers 404).
      if (!(await jobStore.find(db, actor.tenantId, sourceJobId))) throw new NotFoundError('Job not found');
      await requireYoutubePlan(db, deps.plans, actor.tenantId);
      const { job, created } = await db.transaction(async (trx) => {
        // Locking the source serialises two publishes of it.
        const source = await jobStore.findForUpdate(trx, actor.tenantId, sourceJobId);
        if (!source) throw new NotFoundError('Job not found');
        if (source.kind !== 'render' || source.status !== 'succeeded' || !hasLiveOutput(source)) {
          throw new ConflictError('Only a succeeded render whose output is still kept can be published');
        }
        if (!(await deps.connections.find(trx, actor.tenantId))) {
          throw new ConflictError(
            'No YouTube channel is connected: GET /v1/integrations/youtube/connect first',
          );
        }
        const open = await jobStore.findOpenPublish(trx, actor.tenantId, source.id, body.destination);
        if (open) return { job: open, created: false };
        const payload: PublishRequest = { ...body, source_job_id: source.id, requested_by: actor.actorId };
        const row = await jobStore.insert(trx, {
          id: newId('job'),
          tenant_id: actor.tenantId,
          kind: 'publish',
          payload,
          estimate: {},
          metadata: {},
          callback_url: null,
          created_by: actor.actorId,
          priority: 0,
        });
        await appendAudit(trx, {
          ...actor.audit,
          tenantId: actor.tenantId,
          action: 'job.publish_requested',
          targetType: 'job',
          targetId: row.id,
          metadata: { source_job_id: source.id, destination: body.destination, privacy: body.privacy },
        });
        return { job: row, created: true };
      });
      if (created) {
        await deps.jobs.announceQueued(job);
        try {
          await withTimeout(
            deps.producer.enqueueJob({ id: job.id, tenant_id: job.tenant_id, kind: 'publish' }),
            deps.queueTimeoutMs ?? 3000,
            'enqueue',
          );
          await jobStore.markEnqueued(db, job.id);
        } catch (err) {
          logger.warn({ err, job_id: job.id }, 'enqueue failed; the reconciler will enqueue the job');
        }
      }
      return { job: await deps.jobs.get(actor.tenantId, job.id), created };
    },
  };
}

export type PublishService = ReturnType<typeof createPublishService>;
