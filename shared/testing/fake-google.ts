import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

const UNIT = 262_144;

/** One resumable upload session as the fake keeps it. */
export interface FakeUploadSession {
  id: string;
  total: number;
  contentType: string;
  metadata: Record<string, unknown>;
  /** Bytes acknowledged (persisted), always from 0. */
  received: Buffer[];
  receivedBytes: number;
  videoId: string | null;
}

/** A chunk PUT as it arrived: where it claimed to start, and where the session was. */
export interface FakeChunk {
  session: string;
  start: number;
  end: number;
  acknowledged: number;
  bytesArrived: number;
  outcome: 'ok' | 'dropped' | 'failed';
}

/**
 * A local stand-in for Google's OAuth 2.0 endpoints (authorize, token, revoke) and the YouTube
 * Data API v3 resumable upload of videos.insert, with the faults a real upload meets:
 * - `authorize` answers the consent screen at once with a redirect carrying a code bound to the
 *   request's `code_challenge` (S256), `client_id` and `redirect_uri`;
 * - the token endpoint checks `code_verifier` against that challenge (RFC 7636) and the client
 *   secret, and refreshes access tokens from refresh tokens until they are revoked;
 * - the upload keeps what it acknowledged in 256 KiB units, answers 308 + `Range` and 200 with the
 *   video, and can drop the connection after N bytes of a chunk, answer 503 or a quota 403, or
 *   drop the final answer after the video was created.
 */
export interface FakeGoogle {
  url: string;
  clientId: string;
  clientSecret: string;
  /** Env for the API and workers pointing at this fake. */
  env: Record<string, string>;
  sessions: Map<string, FakeUploadSession>;
  chunks: FakeChunk[];
  /** Videos created, in order (the same video is never created twice by the fake). */
  videos: Array<{ id: string; session: string; sha256: string; metadata: Record<string, unknown> }>;
  /** Refresh tokens issued and whether each is revoked. */
  refreshTokens: Map<string, { revoked: boolean; tenantHint: string }>;
  revocations: string[];
  /** A refresh token as if a consent had happened (for tests that start with a connected channel). */
  issueRefreshToken(): string;
  /** Token-endpoint requests by grant type, with whether they were accepted. */
  tokenRequests: Array<{ grant_type: string; ok: boolean; error?: string }>;
  faults: {
    /** Destroy the socket after this many bytes of the next chunk PUT (once). */
    dropChunkAfterBytes: number | null;
    /** Answer the next N chunk PUTs with 503. */
    fail503: number;
    /** Answer the next N chunk PUTs with 403 quotaExceeded. */
    quota403: number;
    /** Create the video on the final chunk but destroy the socket instead of answering (once). */
    dropFinalAnswer: boolean;
    /** The 503/403 faults start once the session has acknowledged this many bytes (default 0). */
    faultsAfterBytes: number;
  };
  close(): Promise<void>;
}

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => resolve(Buffer.concat(parts)));
    req.on('error', reject);
  });
}

function json(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8', ...headers });
  res.end(JSON.stringify(body));
}

export async function startFakeGoogle(): Promise<FakeGoogle> {
  const clientId = 'rendermill-test.apps.googleusercontent.com';
  const clientSecret = `GOCSPX-${randomBytes(8).toString('hex')}`;
  const codes = new Map<
    string,
    { challenge: string; method: string; redirectUri: string; clientId: string }
  >();
  const accessTokens = new Map<string, string>(); // access token → refresh token
  const sockets = new Set<Socket>();
  let url = '';

  const google: FakeGoogle = {
    url: '',
    clientId,
    clientSecret,
    env: {},
    sessions: new Map(),
    chunks: [],
    videos: [],
    refreshTokens: new Map(),
    revocations: [],
    tokenRequests: [],
    faults: {
      dropChunkAfterBytes: null,
      fail503: 0,
      quota403: 0,
      dropFinalAnswer: false,
      faultsAfterBytes: 0,
    },
    issueRefreshToken: () => {
      const refresh = `1//${randomBytes(16).toString('base64url')}`;
      google.refreshTokens.set(refresh, { revoked: false, tenantHint: '' });
      return refresh;
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };

  const issueAccess = (refresh: string) => {
    const token = `ya29.${randomBytes(12).toString('base64url')}`;
    accessTokens.set(token, refresh);
    return token;
  };

  async function token(req: http.IncomingMessage, res: http.ServerResponse) {
    const form = new URLSearchParams((await readBody(req)).toString());
    const grant = form.get('grant_type') ?? '';
    const refuse = (status: number, error: string) => {
      google.tokenRequests.push({ grant_type: grant, ok: false, error });
      json(res, status, { error, error_description: error });
    };
    if (form.get('client_id') !== clientId || form.get('client_secret') !== clientSecret)
      return refuse(401, 'invalid_client');
    if (grant === 'authorization_code') {
      const code = codes.get(form.get('code') ?? '');
      if (!code) return refuse(400, 'invalid_grant');
      codes.delete(form.get('code') ?? '');
      if (code.redirectUri !== form.get('redirect_uri')) return refuse(400, 'redirect_uri_mismatch');
      const verifier = form.get('code_verifier') ?? '';
      const computed = createHash('sha256').update(verifier).digest('base64url');
      if (code.method !== 'S256' || verifier.length < 43 || computed !== code.challenge)
        return refuse(400, 'invalid_grant');
      const refresh = `1//${randomBytes(16).toString('base64url')}`;
      google.refreshTokens.set(refresh, { revoked: false, tenantHint: '' });
      google.tokenRequests.push({ grant_type: grant, ok: true });
      return json(res, 200, {
        access_token: issueAccess(refresh),
        expires_in: 3599,
        refresh_token: refresh,
        scope: 'https://www.googleapis.com/auth/youtube.upload',
        token_type: 'Bearer',
      });
    }
    if (grant === 'refresh_token') {
      const known = google.refreshTokens.get(form.get('refresh_token') ?? '');
      if (!known || known.revoked) return refuse(400, 'invalid_grant');
      google.tokenRequests.push({ grant_type: grant, ok: true });
      return json(res, 200, {
        access_token: issueAccess(form.get('refresh_token') ?? ''),
        expires_in: 3599,
        scope: 'https://www.googleapis.com/auth/youtube.upload',
        token_type: 'Bearer',
      });
    }
    return refuse(400, 'unsupported_grant_type');
  }

  async function revoke(req: http.IncomingMessage, res: http.ServerResponse) {
    const t = new URLSearchParams((await readBody(req)).toString()).get('token') ?? '';
    const known = google.refreshTokens.get(t);
    if (!known || known.revoked) return json(res, 400, { error: 'invalid_token' });
    known.revoked = true;
    for (const [access, refresh] of accessTokens) if (refresh === t) accessTokens.delete(access);
    google.revocations.push(t);
    return json(res, 200, {});
  }

  const authorized = (req: http.IncomingMessage) => {
    const t = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
    return accessTokens.has(t);
  };
  const range = (s: FakeUploadSession) =>
    s.receivedBytes > 0 ? { range: `bytes=0-${s.receivedBytes - 1}` } : {};
  const videoResource = (s: FakeUploadSession) => ({ kind: 'youtube#video', id: s.videoId, ...s.metadata });

  function complete(s: FakeUploadSession) {
    if (s.videoId) return;
    s.videoId = randomBytes(8).toString('base64url').slice(0, 11);
    const sha256 = createHash('sha256').update(Buffer.concat(s.received)).digest('hex');
    google.videos.push({ id: s.videoId, session: s.id, sha256, metadata: s.metadata });
  }

  async function startSession(req: http.IncomingMessage, res: http.ServerResponse, q: URLSearchParams) {
    const body = await readBody(req);
    if (!authorized(req))
      return json(res, 401, {
        error: { code: 401, message: 'Invalid Credentials', errors: [{ reason: 'authError' }] },
      });
    const total = Number(req.headers['x-upload-content-length']);
    if (q.get('uploadType') !== 'resumable' || !Number.isFinite(total) || total <= 0) {
      return json(res, 400, {
        error: { code: 400, message: 'bad upload request', errors: [{ reason: 'badRequest' }] },
      });
    }
    const id = randomBytes(12).toString('base64url');
    google.sessions.set(id, {
      id,
      total,
      contentType: String(req.headers['x-upload-content-type'] ?? ''),
      metadata: JSON.parse(body.toString() || '{}') as Record<string, unknown>,
      received: [],
      receivedBytes: 0,
      videoId: null,
    });
    res.writeHead(200, { location: `${url}/upload/youtube/v3/videos?uploadType=resumable&upload_id=${id}` });
    res.end();
  }

  async function put(req: http.IncomingMessage, res: http.ServerResponse, s: FakeUploadSession) {
    const contentRange = String(req.headers['content-range'] ?? '');
    if (/^bytes \*\/\d+$/.test(contentRange)) {
      await readBody(req);
      if (s.videoId) return json(res, 200, videoResource(s));
      res.writeHead(308, range(s));
      return res.end();
    }
    const m = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(contentRange);
    if (!m)
      return json(res, 400, {
        error: { code: 400, message: 'bad Content-Range', errors: [{ reason: 'badContent' }] },
      });
    const start = Number(m[1]);
    const end = Number(m[2]);
    const chunk: FakeChunk = {
      session: s.id,
      start,
      end,
      acknowledged: s.receivedBytes,
      bytesArrived: 0,
      outcome: 'ok',
    };
    google.chunks.push(chunk);
    const faulty = google.faults.fail503 > 0 || google.faults.quota403 > 0;
    if (faulty && s.receivedBytes >= google.faults.faultsAfterBytes) {
      await readBody(req);
      chunk.outcome = 'failed';
      if (google.faults.fail503 > 0) {
        google.faults.fail503--;
        return json(res, 503, {
          error: { code: 503, message: 'Backend Error', errors: [{ reason: 'backendError' }] },
        });
      }
      google.faults.quota403--;
      return json(res, 403, {
        error: { code: 403, message: 'quota', errors: [{ reason: 'quotaExceeded' }] },
      });
    }
    const dropAfter = google.faults.dropChunkAfterBytes;
    const parts: Buffer[] = [];
    let arrived = 0;
    const dropped = await new Promise<boolean>((resolve, reject) => {
      req.on('data', (c: Buffer) => {
        parts.push(c);
        arrived += c.length;
        if (dropAfter !== null && arrived >= dropAfter) {
          google.faults.dropChunkAfterBytes = null;
          req.socket.destroy();
          resolve(true);
        }
      });
      req.on('end', () => resolve(false));
      req.on('error', reject);
    }).catch(() => true);
    chunk.bytesArrived = arrived;
    const data = Buffer.concat(parts);
    // Bytes count only where the session is; like Google, a partial chunk keeps whole 256 KiB units.
    if (start === s.receivedBytes) {
      const keep = dropped ? Math.floor(data.length / UNIT) * UNIT : data.length;
      s.received.push(data.subarray(0, keep));
      s.receivedBytes += keep;
    }
    if (dropped) {
      chunk.outcome = 'dropped';
      return;
    }
    if (s.receivedBytes >= s.total) {
      complete(s);
      if (google.faults.dropFinalAnswer) {
        google.faults.dropFinalAnswer = false;
        chunk.outcome = 'dropped';
        req.socket.destroy();
        return;
      }
      return json(res, 201, videoResource(s));
    }
    res.writeHead(308, range(s));
    res.end();
  }

  const server = http.createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://fake');
    const route = `${req.method} ${u.pathname}`;
    const done = (p: Promise<unknown>) =>
      p.catch((err: unknown) => {
        if (!res.headersSent) json(res, 500, { error: String(err) });
      });
    if (route === 'GET /o/oauth2/v2/auth') {
      const code = `4/${randomBytes(12).toString('base64url')}`;
      codes.set(code, {
        challenge: u.searchParams.get('code_challenge') ?? '',
        method: u.searchParams.get('code_challenge_method') ?? 'plain',
        redirectUri: u.searchParams.get('redirect_uri') ?? '',
        clientId: u.searchParams.get('client_id') ?? '',
      });
      const back = new URL(u.searchParams.get('redirect_uri') ?? 'http://invalid');
      back.searchParams.set('code', code);
      back.searchParams.set('state', u.searchParams.get('state') ?? '');
      back.searchParams.set('scope', u.searchParams.get('scope') ?? '');
      res.writeHead(302, { location: back.toString() });
      res.end();
      return;
    }
    if (route === 'POST /token') return void done(token(req, res));
    if (route === 'POST /revoke') return void done(revoke(req, res));
    if (route === 'POST /upload/youtube/v3/videos') return void done(startSession(req, res, u.searchParams));
    if (route === 'PUT /upload/youtube/v3/videos') {
      const s = google.sessions.get(u.searchParams.get('upload_id') ?? '');
      if (!s) return void json(res, 404, { error: { code: 404, message: 'no such session' } });
      if (!authorized(req))
        return void json(res, 401, {
          error: { code: 401, message: 'Invalid Credentials', errors: [{ reason: 'authError' }] },
        });
      return void done(put(req, res, s));
    }
    json(res, 404, { error: `no route ${route}` });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  google.url = url;
  google.env = {
    GOOGLE_OAUTH_CLIENT_ID: clientId,
    GOOGLE_OAUTH_CLIENT_SECRET: clientSecret,
    GOOGLE_OAUTH_AUTHORIZE_URL: `${url}/o/oauth2/v2/auth`,
    GOOGLE_OAUTH_TOKEN_URL: `${url}/token`,
    GOOGLE_OAUTH_REVOKE_URL: `${url}/revoke`,
    YOUTUBE_UPLOAD_URL: `${url}/upload/youtube/v3/videos`,
  };
  return google;
}
