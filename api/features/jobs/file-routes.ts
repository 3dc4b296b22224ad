import { pipeline } from 'node:stream/promises';
import { z } from 'zod/v4';
import { NotFoundError } from '../../../shared/errors/http-errors.ts';
import { idParam } from '../../http/contract-schemas.ts';
import { defineOperation, type Operation } from '../../http/operation.ts';
import type { JobService } from './job-service.ts';

/**
 * `GET /v1/files/:jobId?expires=&sig=`: no bearer token, the HMAC signature is the credential
 * (so browsers, curl -L and media players can follow the redirect).
 */
export function fileRoutes(deps: { jobs: JobService }): Operation[] {
  return [
    defineOperation({
      operationId: 'downloadFile',
      method: 'get',
      path: '/v1/files/:jobId',
      tag: 'jobs',
      summary: 'A job output, through the signed link GET /v1/jobs/{id}/output redirects to',
      description: 'Answers Range requests. 403 when the signature is wrong or expired.',
      auth: 'signed-url',
      params: z.object({ jobId: idParam }),
      query: z.object({
        expires: z.string().max(32).optional().describe('Unix time the link stops working'),
        sig: z.string().max(256).optional().describe('HMAC-SHA256 of the job id and expiry'),
      }),
      queryExample: { expires: '1795000000', sig: '3f1c0e…' },
      errors: [403, 503],
      responses: {
        302: {
          description:
            'S3 storage: redirect to a presigned GET of the object (lives no longer than this link)',
          headers: { Location: 'presigned URL' },
        },
        200: {
          description: 'The file (video/mp4, audio/wav, audio/mpeg, image/png or application/zip)',
          contentType: 'application/octet-stream',
          headers: { 'Content-Disposition': 'attachment; filename="<job id>.<ext>"' },
        },
      },
      handler: async ({ params, query }, _req, res) => {
        const file = await deps.jobs.download(params.jobId, { expires: query.expires, sig: query.sig });
        const headers = {
          'Content-Type': file.contentType,
          // Job ids are base64url, so the filename needs no escaping.
          'Content-Disposition': `attachment; filename="${file.filename}"`,
          'Cache-Control': 'private, no-store',
        };
        if (file.redirect) {
          // The store serves the bytes (ranges included) under its own short-lived signature.
          res.setHeader('Cache-Control', 'no-store');
          res.redirect(302, file.redirect);
          return;
        }
        if (file.localPath) {
          const localPath = file.localPath;
          // sendFile answers Range requests (seeking in players, resumed downloads).
          await new Promise<void>((resolve, reject) => {
            res.sendFile(localPath, { headers, cacheControl: false, dotfiles: 'allow' }, (err) => {
              if (!err || res.headersSent)
                resolve(); // after headers, the client went away: nothing to answer
              else
                reject(
                  (err as { status?: number }).status === 404
                    ? new NotFoundError('The output file is missing')
                    : err,
                );
            });
          });
          return;
        }
        const stream = await file.open();
        res.set(headers);
        await pipeline(stream, res);
      },
    }),
  ];
}
