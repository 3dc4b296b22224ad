import { pipeline } from 'node:stream/promises';
import { Router } from 'express';
import { NotFoundError } from '../../../shared/errors/http-errors.ts';
import type { JobService } from './job-service.ts';

/**
 * `GET /v1/files/:jobId?expires=&sig=`: no bearer token, the HMAC signature is the credential
 * (so browsers, curl -L and media players can follow the redirect). Mounted before `authed`.
 */
export function fileRoutes(deps: { jobs: JobService }): Router {
  const r = Router();

  r.get('/v1/files/:jobId', async (req, res, next) => {
    const file = await deps.jobs.download(String(req.params.jobId), {
      expires: req.query.expires,
      sig: req.query.sig,
    });
    const headers = {
      'Content-Type': file.contentType,
      // Job ids are base64url, so the filename needs no escaping.
      'Content-Disposition': `attachment; filename="${file.filename}"`,
      'Cache-Control': 'private, no-store',
    };
    if (file.localPath) {
      // sendFile answers Range requests (seeking in players, resumed downloads).
      res.sendFile(file.localPath, { headers, cacheControl: false, dotfiles: 'allow' }, (err) => {
        if (!err || res.headersSent) return; // after headers, the client went away: nothing to answer
        next(
          (err as { status?: number }).status === 404 ? new NotFoundError('The output file is missing') : err,
        );
      });
      return;
    }
    const stream = await file.open();
    res.set(headers);
    await pipeline(stream, res);
  });

  return r;
}
