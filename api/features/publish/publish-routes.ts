import { z } from 'zod/v4';
import { PUBLISH_PRIVACY } from '../../../shared/jobs/publish-request.ts';
import { idParam } from '../../http/contract-schemas.ts';
import { defineOperation, type Operation } from '../../http/operation.ts';
import { auditActor, principalOf } from '../../http/request-context.ts';
import { jobViewSchema } from '../jobs/job-schemas.ts';
import type { PublishService } from './publish-service.ts';

// YouTube's own limits (a title of 100 characters, a description of 5 000 bytes, neither with < or >).
const noAngles = (s: string) => !/[<>]/.test(s);
const publishBody = z.object({
  destination: z.literal('youtube'),
  title: z.string().trim().min(1).max(100).refine(noAngles, 'must not contain < or >'),
  description: z
    .string()
    .max(5000)
    .refine((d) => Buffer.byteLength(d) <= 5000, 'must be at most 5000 bytes')
    .refine(noAngles, 'must not contain < or >')
    .default(''),
  privacy: z.enum(PUBLISH_PRIVACY).default('private'),
});

/** `POST /v1/jobs/:id/publish` (member+, paid plans). */
export function publishRoutes(deps: { publish: PublishService }): Operation[] {
  return [
    defineOperation({
      operationId: 'publishJob',
      method: 'post',
      path: '/v1/jobs/:id/publish',
      tag: 'jobs',
      summary: "Publish a succeeded render's video to YouTube (a publish job)",
      description:
        "Uploads the output to the connected channel with the resumable upload protocol; the publish job's result holds video_id and url. " +
        'Free plan: 403 upgrade_required (feature youtube_publish). 409 when the job has no output or no channel is connected. ' +
        'Asking again while a publish of the same job is open answers that job (200).',
      auth: 'bearer',
      role: 'member',
      params: z.object({ id: idParam }),
      body: publishBody,
      bodyExample: {
        destination: 'youtube',
        title: 'Our product in 30 seconds',
        description: 'Made with Rendermill',
        privacy: 'unlisted',
      },
      errors: [403, 404, 409],
      responses: {
        202: { description: 'The publish job', body: jobViewSchema, headers: { Location: '/v1/jobs/<id>' } },
        200: { description: 'The open publish job of this video (asked twice)', body: jobViewSchema },
      },
      handler: async ({ params, body }, req, res) => {
        const p = principalOf(req);
        const { job, created } = await deps.publish.publish(
          { tenantId: p.tenantId, actorId: p.userId ?? p.apiKeyId, audit: auditActor(req) },
          params.id,
          body,
        );
        res
          .status(created ? 202 : 200)
          .location(`/v1/jobs/${job.id}`)
          .json(job);
      },
    }),
  ];
}
