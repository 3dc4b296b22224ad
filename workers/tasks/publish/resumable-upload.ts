import { open } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { backoffDelay } from '../../../shared/async/backoff.ts';
import { TaskError } from '../../../shared/errors/task-error.ts';
import { YoutubeApiError } from './youtube-api-error.ts';

/** What an upload persists as it goes, so a crashed attempt resumes the same session. */
export interface UploadState {
  /** The resumable session (a bearer URL: kept in the step state, never shown to the tenant). */
  session_uri: string | null;
  total: number;
  /** Set once YouTube answered 200/201: the upload is done and is never started again. */
  video_id: string | null;
}

export interface ResumableUploadOptions {
  /** YOUTUBE_UPLOAD_URL */
  uploadUrl: string;
  /** The local file to upload. */
  file: string;
  total: number;
  contentType: string;
  /** The video resource (snippet, status) sent when the session starts. */
  metadata: Record<string, unknown>;
  /** Bytes per PUT: a multiple of 256 KiB (the protocol's rule for every chunk but the last). */
  chunkBytes: number;
  /** Limit of one HTTP request. */
  timeoutMs: number;
  /** First pause between tries of one request; doubles each time, ±50 % jitter. */
  backoffMs: number;
  /** Consecutive failed requests before the attempt gives up (the job retries later, same session). */
  maxTries: number;
  /** The step's signal: deadline and cancel. */
  signal: AbortSignal;
  /** An access token; `fresh` after a 401. */
  accessToken(fresh: boolean): Promise<string>;
  /** The last persisted state (the previous attempt's), or a fresh one. */
  state: UploadState;
  /** Persists the state before the next request depends on it. */
  save(state: UploadState): Promise<void>;
  progress(uploaded: number): Promise<void>;
}

type Answer = { kind: 'done'; videoId: string } | { kind: 'partial'; next: number } | { kind: 'expired' };

/** `Range: bytes=0-524287` → 524288 (the next byte to send); no header → 0. */
export function nextByte(range: string | null): number {
  const m = range ? /bytes=0-(\d+)/.exec(range) : null;
  return m?.[1] ? Number(m[1]) + 1 : 0;
}

/**
 * The YouTube Data API v3 resumable upload (videos.insert, uploadType=resumable):
 * 1. POST the video resource with `X-Upload-Content-Length`/`-Type` → the session URI (`Location`),
 *    persisted before a byte is sent;
 * 2. PUT chunks with `Content-Range: bytes first-last/total`; 308 + `Range` acknowledges bytes,
 *    200/201 returns the video;
 * 3. after a dropped connection or a crash, PUT `Content-Range: bytes *\/total` (empty) asks how far
 *    the session got and the upload continues from the last acknowledged byte.
 * 5xx, 429 and quota/rate 403s are retried with jittered backoff; a 401 refreshes the token once;
 * a 404/410 session (expired, about a week) starts a new one — it had no video yet. Never a second
 * video: once the video id is saved nothing is sent again, and a retry first asks the saved session.
 */
export async function resumableUpload(o: ResumableUploadOptions): Promise<string> {
  let state = { ...o.state };
  if (state.video_id) return state.video_id;
  let token = await o.accessToken(false);
  let failures = 0;
  let refreshed = false;

  const request = async (url: string, init: RequestInit): Promise<Response> =>
    fetch(url, { ...init, signal: AbortSignal.any([o.signal, AbortSignal.timeout(o.timeoutMs)]) });

  /** One request's answer, or a retry decision for what went wrong. */
  async function attempt<T>(what: string, run: () => Promise<T>): Promise<T | 'retry'> {
    try {
      return await run();
    } catch (err) {
      o.signal.throwIfAborted();
      if (err instanceof YoutubeApiError && err.status === 401 && !refreshed) {
        refreshed = true;
        token = await o.accessToken(true);
        return 'retry';
      }
      if (err instanceof TaskError && !err.retryable) throw err;
      failures++;
      if (failures >= o.maxTries) {
        throw new TaskError(
          `YouTube upload: ${what} failed ${failures} times in a row (${(err as Error).message}); the job retries and resumes the same session`,
          'youtube_unavailable',
          true,
          { cause: err },
        );
      }
      const pause = backoffDelay({ baseMs: o.backoffMs, attempt: failures, jitter: 0.5 });
      await sleep(pause, undefined, { signal: o.signal });
      return 'retry';
    }
  }

  const answer = async (res: Response, what: string): Promise<Answer> => {
    if (res.status === 200 || res.status === 201) {
      const video = (await res.json().catch(() => ({}))) as { id?: unknown };
      if (typeof video.id !== 'string')
        throw new YoutubeApiError(res.status, null, `YouTube ${what} answered without a video id`);
      return { kind: 'done', videoId: video.id };
    }
    if (res.status === 308) {
      await res.body?.cancel();
      return { kind: 'partial', next: nextByte(res.headers.get('range')) };
    }
    if (res.status === 404 || res.status === 410) {
      await res.body?.cancel();
      return { kind: 'expired' };
    }
    throw await YoutubeApiError.from(res, what);
  };

  async function startSession(): Promise<string> {
    for (;;) {
      const uri = await attempt('starting the session', async () => {
        const url = new URL(o.uploadUrl);
        url.searchParams.set('uploadType', 'resumable');
        url.searchParams.set('part', 'snippet,status');
        const res = await request(url.toString(), {
          method: 'POST',
          headers: {
            authorization: `Bearer ${token}`,
            'content-type': 'application/json; charset=UTF-8',
            'x-upload-content-length': String(o.total),
            'x-upload-content-type': o.contentType,
          },
          body: JSON.stringify(o.metadata),
        });
        if (res.status !== 200 && res.status !== 201) throw await YoutubeApiError.from(res, 'session start');
        await res.body?.cancel();
        const location = res.headers.get('location');
        if (!location)
          throw new YoutubeApiError(res.status, null, 'YouTube session start answered without Location');
        return location;
      });
      if (uri !== 'retry') return uri;
    }
  }

  async function status(sessionUri: string): Promise<Answer | 'retry'> {
    return attempt('asking the session how far it got', async () =>
      answer(
        await request(sessionUri, {
          method: 'PUT',
          headers: { authorization: `Bearer ${token}`, 'content-range': `bytes */${o.total}` },
          body: Buffer.alloc(0),
        }),
        'status query',
      ),
    );
  }

  const file = await open(o.file, 'r');
  try {
    const finish = async (videoId: string) => {
      state = { ...state, video_id: videoId };
      await o.save(state);
      await o.progress(o.total);
      return videoId;
    };
    // Where to continue: null = ask the session first (a resumed attempt, or after a failure).
    let next: number | null = null;
    if (!state.session_uri) {
      state = { session_uri: await startSession(), total: o.total, video_id: null };
      await o.save(state);
      next = 0;
    }
    for (;;) {
      const sessionUri = state.session_uri as string;
      if (next === null) {
        const known = await status(sessionUri);
        if (known === 'retry') continue;
        if (known.kind === 'done') return await finish(known.videoId);
        if (known.kind === 'expired') {
          state = { session_uri: await startSession(), total: o.total, video_id: null };
          await o.save(state);
          next = 0;
          continue;
        }
        next = known.next;
      }
      const from = next;
      const length = Math.min(o.chunkBytes, o.total - from);
      const chunk = Buffer.alloc(length);
      if (length > 0) await file.read(chunk, 0, length, from);
      const sent = await attempt(`uploading bytes ${from}-${from + length - 1}`, async () =>
        answer(
          await request(sessionUri, {
            method: 'PUT',
            headers: {
              authorization: `Bearer ${token}`,
              'content-type': o.contentType,
              'content-range':
                length > 0 ? `bytes ${from}-${from + length - 1}/${o.total}` : `bytes */${o.total}`,
            },
            body: chunk,
          }),
          'chunk upload',
        ),
      );
      if (sent === 'retry') {
        // The connection may have dropped mid-chunk: only the session knows what arrived.
        next = null;
        continue;
      }
      if (sent.kind === 'done') return await finish(sent.videoId);
      if (sent.kind === 'expired') {
        next = null;
        continue;
      }
      failures = 0;
      refreshed = false;
      next = sent.next;
      await o.progress(next);
    }
  } finally {
    await file.close();
  }
}
