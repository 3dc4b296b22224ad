import path from 'node:path';
import { type ExportRequest, exportRequestSchema } from '../../../shared/jobs/account-requests.ts';
import { createJobRepository } from '../../../shared/jobs/job-repository.ts';
import { signDownload } from '../../../shared/storage/signed-url.ts';
import { tenantKey } from '../../../shared/storage/storage.ts';
import type { JobDefinition } from '../../jobs/job-runner.ts';
import { type StepDefinition, steps } from '../../jobs/step.ts';
import { writeExportZip } from './export-archive.ts';
import { createExportReader } from './export-data.ts';

/** The download window of an export (README: GDPR export, 24 h). Links to large outputs inside it live as long. */
export const EXPORT_TTL_MS = 24 * 3600 * 1000;

/** Building a large ZIP takes long; the generic STEP_TIMEOUT_SECONDS (60 s) is for media calls. */
const ARCHIVE_DEADLINE_MS = 30 * 60 * 1000;

/**
 * `archive`: streams the tenant's data into a ZIP in the scratch directory and uploads it as the
 * job's output (`tenants/<id>/exports/<job_id>.zip`, 24 h). Build and upload are one step: the
 * scratch file does not survive into a retry, the uploaded object does.
 */
const archiveStep: StepDefinition<
  ExportRequest,
  { key: string; bytes: number; counts: Record<string, number> },
  'archive'
> = {
  name: 'archive',
  weight: 9,
  deadlineMs: () => ARCHIVE_DEADLINE_MS,
  async run(ctx) {
    const { config, db, storage } = ctx.services;
    const tenantId = ctx.job.tenant_id;
    const zipPath = path.join(ctx.workDir, 'export.zip');
    const expiresAt = new Date(Date.now() + EXPORT_TTL_MS);
    const { manifest } = await writeExportZip({
      reader: createExportReader(db, tenantId),
      storage,
      tenantId,
      jobId: ctx.job.id,
      zipPath,
      workDir: ctx.workDir,
      inlineCapBytes: config.EXPORT_INLINE_OUTPUTS_MAX_BYTES,
      signLink: (jobId) => {
        const link = signDownload({
          secret: config.JWT_SECRET,
          publicUrl: config.PUBLIC_URL,
          jobId,
          // As long as the export itself: a link that dies before the ZIP is downloaded is useless.
          ttlSeconds: EXPORT_TTL_MS / 1000,
        });
        return { url: link.url, expiresAt: new Date(link.expires * 1000) };
      },
      signal: ctx.signal,
      progress: (f) => ctx.progress(f * 0.9),
    });
    const key = tenantKey(tenantId, 'exports', `${ctx.job.id}.zip`);
    const stored = await storage.putFile(key, zipPath);
    await ctx.progress(1);
    return {
      result: { key, bytes: stored.bytes, counts: manifest.counts },
      output: { key, contentType: 'application/zip', bytes: stored.bytes, expiresAt },
    };
  },
};

/** `notify`: tells the tenant's owners and admins that the export can be downloaded. */
const notifyStep: StepDefinition<ExportRequest, { notified: number }, 'notify'> = {
  name: 'notify',
  weight: 1,
  async run(ctx) {
    const { config, db, mailer } = ctx.services;
    const rows: Array<{ email: string }> = await db('memberships as m')
      .join('users as u', 'u.id', 'm.user_id')
      .select('u.email')
      .where('m.tenant_id', ctx.job.tenant_id)
      .whereIn('m.role', ['owner', 'admin'])
      .orderBy('u.email');
    const link = `${config.PUBLIC_URL}/v1/jobs/${ctx.job.id}/output`;
    const job = await createJobRepository().findById(db, ctx.job.id);
    const until = (job?.output_expires_at ?? new Date(Date.now() + EXPORT_TTL_MS)).toISOString();
    for (const { email } of rows) {
      ctx.signal.throwIfAborted();
      await mailer.send({
        to: email,
        subject: 'Your Rendermill data export is ready',
        text:
          `The export of your Rendermill workspace is ready. Download it (as an admin or owner, ` +
          `with your access token) until about ${until}:\n${link}\n\n` +
          'It holds your profile, members, jobs, usage ledger, audit log, webhook deliveries and outputs; ' +
          'manifest.json lists everything inside. No secrets are included.\n',
        link,
      });
    }
    return { result: { notified: rows.length } };
  },
};

/** The steps of an `export` job (`account.export`), in order. Payload: `exportRequestSchema`. */
export const exportSteps = steps<ExportRequest>().add(archiveStep).add(notifyStep).steps;

/** Catalog entry for `account.export` (queue `account`). */
export const exportJob: JobDefinition<ExportRequest> = {
  kind: 'export',
  request: exportRequestSchema,
  steps: exportSteps,
};
