import { type Request, type Response, Router } from 'express';
import { z } from 'zod';
import { ValidationError } from '../../../shared/errors/http-errors.ts';
import { JOB_KINDS, JOB_STATUSES } from '../../../shared/jobs/job-contract.ts';
import {
  imageRequestSchema,
  renderRequestSchema,
  ttsRequestSchema,
} from '../../../shared/jobs/job-requests.ts';
import { parseInput } from '../../../shared/validation/parse.ts';
import { auditActor, principalOf } from '../../http/request-context.ts';
import { requireRole } from '../auth/authenticate.ts';
import { decodeJobCursor } from './job-cursor.ts';
import type { JobService } from './job-service.ts';
import type { JobSubmission } from './submission-seams.ts';
import type { JobActor } from './submit-job.ts';

const listQuery = z.object({
  status: z.enum(JOB_STATUSES).optional(),
  kind: z.enum(JOB_KINDS).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().optional(),
});

// Visible ASCII only: the key is echoed in logs and audit metadata.
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

function idempotencyKeyOf(req: Request): string | null {
  const key = req.get('idempotency-key');
  if (key === undefined) return null;
  if (!IDEMPOTENCY_KEY.test(key)) {
    throw new ValidationError([
      { path: '', message: 'Idempotency-Key header must be 1 to 255 visible ASCII characters' },
    ]);
  }
  return key;
}

function actorOf(req: Request): JobActor {
  const p = principalOf(req);
  return { tenantId: p.tenantId, actorId: p.userId ?? p.apiKeyId, role: p.role, audit: auditActor(req) };
}

/** Job submission, status and control. Every read is tenant-scoped: a foreign id is a 404. */
export function jobRoutes(deps: { jobs: JobService }): Router {
  const r = Router();
  const { jobs } = deps;

  const submit = async (req: Request, res: Response, submission: JobSubmission) => {
    const { job, replayed } = await jobs.submit(actorOf(req), submission, idempotencyKeyOf(req));
    if (replayed) res.setHeader('Idempotent-Replayed', 'true');
    res.status(202).location(`/v1/jobs/${job.id}`).json(job);
  };

  r.post('/v1/renders', requireRole('member'), (req, res) =>
    submit(req, res, { kind: 'render', request: parseInput(renderRequestSchema, req.body) }),
  );
  r.post('/v1/tts', requireRole('member'), (req, res) =>
    submit(req, res, { kind: 'tts', request: parseInput(ttsRequestSchema, req.body) }),
  );
  r.post('/v1/images', requireRole('member'), (req, res) =>
    submit(req, res, { kind: 'image', request: parseInput(imageRequestSchema, req.body) }),
  );

  r.get('/v1/jobs', requireRole('viewer'), async (req, res) => {
    const q = parseInput(listQuery, req.query);
    let after: ReturnType<typeof decodeJobCursor> | undefined;
    if (q.cursor !== undefined) {
      after = decodeJobCursor(q.cursor);
      if (!after) throw new ValidationError([{ path: '/cursor', message: 'not a cursor this API returned' }]);
    }
    const page = await jobs.list(principalOf(req).tenantId, {
      limit: q.limit,
      ...(q.status ? { status: q.status } : {}),
      ...(q.kind ? { kind: q.kind } : {}),
      ...(after ? { after } : {}),
    });
    res.json(page);
  });

  r.get('/v1/jobs/:id', requireRole('viewer'), async (req, res) => {
    res.json(await jobs.get(principalOf(req).tenantId, String(req.params.id)));
  });

  r.post('/v1/jobs/:id/cancel', requireRole('member'), async (req, res) => {
    res.status(202).json(await jobs.cancel(actorOf(req), String(req.params.id)));
  });

  r.get('/v1/jobs/:id/output', requireRole('viewer'), async (req, res) => {
    const link = await jobs.outputLink(actorOf(req), String(req.params.id));
    // The link expires: no cache may keep this redirect past it.
    res.setHeader('Cache-Control', 'no-store');
    res.redirect(302, link.url);
  });

  // The same signed link as JSON, for clients that cannot follow a redirect with a bearer token
  // (a browser's <video src> and download links carry no Authorization header).
  r.get('/v1/jobs/:id/output/link', requireRole('viewer'), async (req, res) => {
    const link = await jobs.outputLink(actorOf(req), String(req.params.id));
    res.setHeader('Cache-Control', 'no-store');
    res.json({ url: link.url, expires_at: new Date(link.expires * 1000).toISOString() });
  });

  return r;
}
