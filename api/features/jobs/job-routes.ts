import type { Request, Response } from 'express';
import { z } from 'zod/v4';
import { JOB_KINDS, JOB_STATUSES } from '../../../shared/jobs/job-contract.ts';
import type { JobPosition } from '../../../shared/jobs/job-repository.ts';
import type { JobSubmission } from '../../../shared/jobs/job-requests.ts';
import {
  imageRequestSchema,
  renderRequestSchema,
  ttsRequestSchema,
} from '../../../shared/jobs/job-requests.ts';
import { idParam, listOf } from '../../http/contract-schemas.ts';
import { decodeTimeCursor } from '../../http/keyset-cursor.ts';
import { defineOperation, type Operation } from '../../http/operation.ts';
import { auditActor, principalOf } from '../../http/request-context.ts';
import { jobExample, jobViewSchema } from './job-schemas.ts';
import type { JobService } from './job-service.ts';
import type { JobActor } from './submit-job.ts';

const listQuery = z.object({
  status: z.enum(JOB_STATUSES).optional(),
  kind: z.enum(JOB_KINDS).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().max(200).optional(),
});

// Visible ASCII only: the key is echoed in logs and audit metadata.
const submitHeaders = z.object({
  'Idempotency-Key': z
    .string()
    .regex(/^[\x21-\x7e]{1,255}$/, 'must be 1 to 255 visible ASCII characters')
    .optional()
    .describe('Same key and body within 24 h → the original job; same key, other body → 409'),
});

const jobParams = z.object({ id: idParam });

function actorOf(req: Request): JobActor {
  const p = principalOf(req);
  return {
    tenantId: p.tenantId,
    actorId: p.userId ?? p.apiKeyId,
    role: p.role,
    audit: auditActor(req),
    generation: p.generation,
  };
}

const submitted = {
  202: {
    description: 'Accepted: the job is queued (`Idempotent-Replayed: true` when a key replays it)',
    body: jobViewSchema,
    headers: { Location: '/v1/jobs/<id>', 'Idempotent-Replayed': 'true on a replay' },
    example: jobExample,
  },
};

/** Job submission, status and control. Every read is tenant-scoped: a foreign id is a 404. */
export function jobRoutes(deps: { jobs: JobService }): Operation[] {
  const { jobs } = deps;

  const submit = async (
    req: Request,
    res: Response,
    submission: JobSubmission,
    key: string | undefined,
  ): Promise<void> => {
    const { job, replayed } = await jobs.submit(actorOf(req), submission, key ?? null);
    if (replayed) res.setHeader('Idempotent-Replayed', 'true');
    res.status(202).location(`/v1/jobs/${job.id}`).json(job);
  };
  const submitOp = {
    method: 'post',
    tag: 'jobs',
    auth: 'bearer',
    role: 'member',
    headers: submitHeaders,
    headersExample: { 'Idempotency-Key': 'order-42-render' },
    responses: submitted,
    errors: [402, 403, 409],
  } as const;

  return [
    defineOperation({
      ...submitOp,
      operationId: 'createRender',
      path: '/v1/renders',
      summary: 'Submit a render (narrated MP4)',
      description:
        '1–50 scenes; each lasts as long as its narration, or its `duration` when it has no text. `image_url` and `callback_url` must be http(s) and may not name a private address.',
      body: renderRequestSchema,
      bodyExample: {
        scenes: [
          {
            title: 'Why queues?',
            text: 'Rendering takes longer than a request should.',
            background: '#1f2937',
          },
          { title: 'Metering', duration: 3 },
        ],
        resolution: '720p',
        fps: 30,
        voice: 'en',
        callback_url: 'https://example.com/hooks/rendermill',
        metadata: { order: '42' },
      },
      handler: ({ body, headers }, req, res) =>
        submit(req, res, { kind: 'render', request: body }, headers['Idempotency-Key']),
    }),
    defineOperation({
      ...submitOp,
      operationId: 'createTts',
      path: '/v1/tts',
      summary: 'Submit a speech synthesis (WAV or MP3)',
      body: ttsRequestSchema,
      bodyExample: { text: 'Hello from Rendermill.', voice: 'en', format: 'mp3' },
      handler: ({ body, headers }, req, res) =>
        submit(req, res, { kind: 'tts', request: body }, headers['Idempotency-Key']),
    }),
    defineOperation({
      ...submitOp,
      operationId: 'createImage',
      path: '/v1/images',
      summary: 'Submit a title card (PNG)',
      body: imageRequestSchema,
      bodyExample: {
        title: 'Chapter 1',
        text: 'The beginning',
        width: 1280,
        height: 720,
        background: '#0f766e',
      },
      handler: ({ body, headers }, req, res) =>
        submit(req, res, { kind: 'image', request: body }, headers['Idempotency-Key']),
    }),
    defineOperation({
      operationId: 'listJobs',
      method: 'get',
      path: '/v1/jobs',
      tag: 'jobs',
      summary: 'List jobs, newest first',
      auth: 'bearer',
      query: listQuery,
      queryExample: { status: 'succeeded', kind: 'render', limit: '20' },
      responses: { 200: { description: 'One page of jobs', body: listOf(jobViewSchema) } },
      handler: async ({ query }, req, res) => {
        let after: JobPosition | undefined;
        if (query.cursor !== undefined) {
          const { at, id } = decodeTimeCursor(query.cursor);
          after = { createdAt: at, id };
        }
        res.json(
          await jobs.list(principalOf(req).tenantId, {
            limit: query.limit,
            ...(query.status ? { status: query.status } : {}),
            ...(query.kind ? { kind: query.kind } : {}),
            ...(after ? { after } : {}),
          }),
        );
      },
    }),
    defineOperation({
      operationId: 'getJob',
      method: 'get',
      path: '/v1/jobs/:id',
      tag: 'jobs',
      summary: 'A job: status, progress, steps, usage, output',
      auth: 'bearer',
      params: jobParams,
      responses: { 200: { description: 'The job', body: jobViewSchema, example: jobExample } },
      handler: async ({ params }, req, res) => {
        res.json(await jobs.get(principalOf(req).tenantId, params.id));
      },
    }),
    defineOperation({
      operationId: 'cancelJob',
      method: 'post',
      path: '/v1/jobs/:id/cancel',
      tag: 'jobs',
      summary: 'Cancel a job',
      description: 'A queued job never starts; a running one is stopped within 2 s. 409 when already final.',
      auth: 'bearer',
      role: 'member',
      params: jobParams,
      errors: [409],
      responses: { 202: { description: 'Cancellation accepted', body: jobViewSchema } },
      handler: async ({ params }, req, res) => {
        res.status(202).json(await jobs.cancel(actorOf(req), params.id));
      },
    }),
    defineOperation({
      operationId: 'getJobOutput',
      method: 'get',
      path: '/v1/jobs/:id/output',
      tag: 'jobs',
      summary: 'Download a job output (redirect to a signed link)',
      description:
        'Redirects to a signed URL valid 15 minutes. 404 before there is an output or after it expired; account exports need admin.',
      auth: 'bearer',
      params: jobParams,
      errors: [403],
      responses: {
        302: { description: 'Redirect to the signed download link', headers: { Location: 'signed URL' } },
      },
      handler: async ({ params }, req, res) => {
        const link = await jobs.outputLink(actorOf(req), params.id);
        // The link expires: no cache may keep this redirect past it.
        res.setHeader('Cache-Control', 'no-store');
        res.redirect(302, link.url);
      },
    }),
    // The same signed link as JSON, for clients that cannot follow a redirect with a bearer token
    // (a browser's <video src> and download links carry no Authorization header).
    defineOperation({
      operationId: 'getJobOutputLink',
      method: 'get',
      path: '/v1/jobs/:id/output/link',
      tag: 'jobs',
      summary: 'The signed download link of a job output, as JSON',
      auth: 'bearer',
      params: jobParams,
      errors: [403],
      responses: {
        200: {
          description: 'The signed link and when it expires',
          body: z.object({ url: z.string(), expires_at: z.string() }),
        },
      },
      handler: async ({ params }, req, res) => {
        const link = await jobs.outputLink(actorOf(req), params.id);
        res.setHeader('Cache-Control', 'no-store');
        res.json({ url: link.url, expires_at: new Date(link.expires * 1000).toISOString() });
      },
    }),
  ];
}
