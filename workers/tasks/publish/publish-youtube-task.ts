import path from 'node:path';
import { TaskError } from '../../../shared/errors/task-error.ts';
import { GoogleOAuthError } from '../../../shared/integrations/google-oauth-error.ts';
import { createSecretBox } from '../../../shared/integrations/secret-box.ts';
import { createYoutubeConnectionStore } from '../../../shared/integrations/youtube-connection-store.ts';
import { googleOAuthFromConfig } from '../../../shared/integrations/youtube-grant.ts';
import { createJobRepository } from '../../../shared/jobs/job-repository.ts';
import { type PublishRequest, publishRequestSchema } from '../../../shared/jobs/publish-request.ts';
import type { JobDefinition } from '../../jobs/job-runner.ts';
import type { StepContext, StepDefinition } from '../../jobs/step.ts';
import { resumableUpload, type UploadState } from './resumable-upload.ts';

/** An upload of a few GB at a modest uplink, with its retries; the job's own retries resume it. */
const UPLOAD_DEADLINE_MS = 2 * 3600 * 1000;
const STEP = 'upload';
/** Consecutive failed requests before an attempt gives up and leaves it to the job's retry. */
const TRIES_PER_ATTEMPT = 5;

const jobs = createJobRepository();
const connections = createYoutubeConnectionStore();

function savedState(raw: unknown, total: number): UploadState {
  const s = (raw ?? {}) as Partial<UploadState>;
  // A session for another size (the output changed) cannot be resumed.
  if (typeof s.session_uri === 'string' && s.total === total) {
    return {
      session_uri: s.session_uri,
      total,
      video_id: typeof s.video_id === 'string' ? s.video_id : null,
    };
  }
  if (typeof s.video_id === 'string') return { session_uri: null, total, video_id: s.video_id };
  return { session_uri: null, total, video_id: null };
}

/** Refreshes an access token from the tenant's sealed refresh token; a revoked grant fails the job for good. */
function accessTokens(ctx: StepContext<PublishRequest>, refreshToken: string) {
  const oauth = googleOAuthFromConfig(ctx.services.config);
  if (!oauth)
    throw new TaskError(
      'GOOGLE_OAUTH_CLIENT_ID/SECRET are unset on the workers',
      'youtube_not_configured',
      true,
    );
  let cached: string | null = null;
  return async (fresh: boolean): Promise<string> => {
    if (cached && !fresh) return cached;
    try {
      cached = (await oauth.refresh(refreshToken, ctx.signal)).access_token;
      return cached;
    } catch (err) {
      if (err instanceof GoogleOAuthError && err.grantRevoked) {
        throw new TaskError(
          'The YouTube channel revoked access: connect it again',
          'youtube_disconnected',
          false,
        );
      }
      throw err;
    }
  };
}

/**
 * `upload`: the source render's output to the tenant's channel (resumable upload). The session
 * URI and, at the end, the video id are saved in this step's state as soon as they exist, so a
 * retry after a crash resumes the session, and one after a finished upload only reads the id back.
 */
const uploadStep: StepDefinition<
  PublishRequest,
  { video_id: string; url: string; bytes: number },
  typeof STEP
> = {
  name: STEP,
  weight: 1,
  deadlineMs: () => UPLOAD_DEADLINE_MS,
  async run(ctx) {
    const { config, db, storage } = ctx.services;
    const tenantId = ctx.job.tenant_id;
    if (
      !config.INTEGRATIONS_ENCRYPTION_KEY ||
      !config.GOOGLE_OAUTH_CLIENT_ID ||
      !config.GOOGLE_OAUTH_CLIENT_SECRET
    ) {
      throw new TaskError(
        'YouTube publishing is not configured on the workers (INTEGRATIONS_ENCRYPTION_KEY, GOOGLE_OAUTH_CLIENT_ID/SECRET)',
        'youtube_not_configured',
        true,
      );
    }
    const source = await jobs.find(db, tenantId, ctx.payload.source_job_id);
    if (!source?.output_key || source.output_deleted_at || !source.output_content_type) {
      throw new TaskError('The video to publish no longer exists', 'output_gone', false);
    }
    const connection = await connections.find(db, tenantId);
    if (!connection) throw new TaskError('No YouTube channel is connected', 'youtube_not_connected', false);
    let refreshToken: string;
    try {
      refreshToken = createSecretBox(config.INTEGRATIONS_ENCRYPTION_KEY).open(
        connection.refresh_token_encrypted,
        tenantId,
      );
    } catch {
      throw new TaskError(
        'The YouTube token was sealed with another key: connect the channel again',
        'youtube_disconnected',
        false,
      );
    }

    const file = path.join(ctx.workDir, 'video');
    await storage.download(source.output_key, file);
    const total = (await storage.stat(source.output_key))?.bytes ?? source.output_bytes ?? 0;
    const videoId = await resumableUpload({
      uploadUrl: config.YOUTUBE_UPLOAD_URL,
      file,
      total,
      contentType: source.output_content_type,
      metadata: {
        snippet: { title: ctx.payload.title, description: ctx.payload.description },
        status: { privacyStatus: ctx.payload.privacy, selfDeclaredMadeForKids: false },
      },
      chunkBytes: config.YOUTUBE_CHUNK_BYTES,
      timeoutMs: config.GOOGLE_HTTP_TIMEOUT_SECONDS * 1000,
      backoffMs: 1000 * config.JOB_BACKOFF_SCALE,
      maxTries: TRIES_PER_ATTEMPT,
      signal: ctx.signal,
      accessToken: accessTokens(ctx, refreshToken),
      state: savedState(await jobs.stepState(db, ctx.job.id, STEP), total),
      save: (state) => jobs.saveStepState(db, ctx.job.id, STEP, state),
      progress: (uploaded) => ctx.progress(total > 0 ? uploaded / total : 1),
    });
    const url = `https://youtu.be/${videoId}`;
    return {
      result: { video_id: videoId, url, bytes: total },
      jobResult: { destination: 'youtube', video_id: videoId, url, source_job_id: source.id },
    };
  },
};

/** `publish.youtube`: one resumable upload step. */
export const publishYoutubeJob: JobDefinition<PublishRequest> = {
  kind: 'publish',
  request: publishRequestSchema,
  steps: [uploadStep],
};
