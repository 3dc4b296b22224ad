import { isIP } from 'node:net';
import os from 'node:os';
import { z } from 'zod';
import { parseBackupKey } from '../backup/backup-crypto.ts';
import { parseRedisTarget } from '../redis/redis.ts';

/**
 * The one configuration schema. Parsed once at boot by each composition root; nothing else
 * reads `process.env`. Every key is described; defaults are the product defaults.
 */
const bool = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');
const csv = z.string().transform((v) =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
);
function isHostIpOrCidr(entry: string): boolean {
  const [addr = '', prefix, extra] = entry.split('/');
  if (extra !== undefined) return false;
  if (prefix !== undefined) {
    const bits = Number(prefix);
    const family = isIP(addr);
    return family !== 0 && /^\d+$/.test(prefix) && bits <= (family === 4 ? 32 : 128);
  }
  return (
    isIP(addr) !== 0 ||
    /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/i.test(addr)
  );
}

const DEV_JWT_SECRET = 'dev-only-insecure-jwt-secret-change-me-0123456789';

export const configSchema = z
  .object({
    NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
    /** Postgres connection string. The database is created on first start when missing. */
    DATABASE_URL: z.string().url().default('postgres://postgres@127.0.0.1:5432/rendermill'),
    /**
     * Redis for queues and rate-limit counters (must run with maxmemory-policy noeviction):
     * `redis://…` for one server, `redis-cluster://[user:pass@]h1:p1,h2:p2` for a cluster.
     */
    REDIS_URL: z
      .string()
      .refine(
        (v) => parseRedisTarget(v) !== null,
        'must be redis://…, rediss://… or redis-cluster://h1:p1,h2:p2',
      )
      .default('redis://127.0.0.1:6379/0'),
    /** Seed nodes of a Redis Cluster (`h1:p1,h2:p2`); set = cluster mode with REDIS_URL's credentials. */
    REDIS_CLUSTER_NODES: z
      .string()
      .refine((v) => parseRedisTarget('redis://x', v) !== null, 'must be host:port pairs, comma separated')
      .optional(),
    /** Prefix of every Redis key this deployment writes (BullMQ queues, rate limits). */
    REDIS_PREFIX: z
      .string()
      .regex(/^[a-zA-Z0-9:_-]+$/)
      .default('rm'),
    /** HTTP port of the API. */
    PORT: z.coerce.number().int().min(0).max(65535).default(3000),
    /**
     * API processes sharing PORT on this host (node:cluster), when the runner runs the API alone
     * (`npm run start:api`): a whole number from 1 to 64, or `auto` / `0` for one per core
     * (`os.availableParallelism()`, at most 64; it does not see a container's CPU limit). Default 1.
     */
    API_PROCESSES: z
      .string()
      .regex(/^(auto|\d+)$/, 'must be a whole number from 1 to 64, or auto (or 0) for one per core')
      .transform((v) =>
        v === 'auto' || Number(v) === 0 ? Math.min(os.availableParallelism(), 64) : Number(v),
      )
      .pipe(z.number().max(64, 'must be at most 64 (each process has its own Postgres pool)'))
      .default('1'),
    /** Base URL used in every link we send (magic links, downloads). Never taken from request headers. */
    PUBLIC_URL: z.string().url().optional(),
    /** HMAC secret for access JWTs (HS256). At least 32 characters; required in production. */
    JWT_SECRET: z.string().min(32).optional(),
    /** Access token lifetime in seconds (default 24 h). */
    ACCESS_TOKEN_TTL_SECONDS: z.coerce.number().int().positive().default(86_400),
    /** Refresh token / session lifetime in seconds (default 30 days). */
    REFRESH_TOKEN_TTL_SECONDS: z.coerce.number().int().positive().default(2_592_000),
    /** SMTP server for outgoing mail, e.g. smtp://localhost:1025. Unset: mail goes to the dev outbox. */
    SMTP_URL: z.string().url().optional(),
    /** Sender address of every email. */
    MAIL_FROM: z.string().min(3).default('Rendermill <no-reply@rendermill.local>'),
    /** Directory of the dev outbox (used when SMTP_URL is unset). */
    DEV_OUTBOX_DIR: z.string().default('.data/outbox'),
    /** The built dashboard (`npm run build:web`) the API serves at `/`; missing: the API runs alone. */
    WEB_DIST_DIR: z.string().default('web/dist'),
    /** Local output store (used when S3_BUCKET is unset). */
    STORAGE_DIR: z.string().default('.data/storage'),
    /** S3 bucket for outputs, exports and the media cache; setting it selects S3 storage. */
    S3_BUCKET: z
      .string()
      .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'must be a valid S3 bucket name')
      .optional(),
    /** S3-compatible endpoint (MinIO, R2, …); unset = AWS S3 in S3_REGION. */
    S3_ENDPOINT: z.string().url().optional(),
    /** Endpoint clients reach for presigned downloads when it differs from S3_ENDPOINT (e.g. compose). */
    S3_PUBLIC_ENDPOINT: z.string().url().optional(),
    /** Region of the bucket (MinIO and s3rver accept any). */
    S3_REGION: z.string().min(1).default('us-east-1'),
    /** Static S3 credentials; unset = the SDK's default chain (env, instance or pod role). */
    S3_ACCESS_KEY_ID: z.string().optional(),
    S3_SECRET_ACCESS_KEY: z.string().optional(),
    /** Path-style URLs (endpoint/bucket/key), which MinIO needs. */
    S3_FORCE_PATH_STYLE: bool.default('false'),
    /** Deadline of one S3 request (until response headers; also the longest idle socket), seconds. */
    S3_REQUEST_TIMEOUT_SECONDS: z.coerce.number().positive().max(3600).default(60),
    /** Stripe secret key. Unset: billing runs in local-ledger mode. */
    STRIPE_SECRET_KEY: z.string().startsWith('sk_').optional(),
    /** Signing secret of the Stripe webhook endpoint (whsec_…). */
    STRIPE_WEBHOOK_SECRET: z.string().optional(),
    /** Points the Stripe SDK at another base URL (a local test server). */
    STRIPE_API_URL: z.string().url().optional(),
    /** Sentry DSN; errors are reported when set. */
    SENTRY_DSN: z.string().url().optional(),
    /** Dispatch render, TTS and image jobs fairly between tenants (deficit round-robin by plan priority). */
    FAIR_SHARE: bool.default('true'),
    /**
     * Fair share: jobs kept waiting in BullMQ ahead of the workers, per queue. About the number
     * of worker slots of the fleet: lower makes a newcomer wait less, too low leaves workers idle.
     */
    FAIR_SHARE_PREFETCH: z.coerce.number().int().min(1).max(1000).default(4),
    /** Jobs one worker process runs at once. */
    WORKER_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(2),
    /**
     * A render of at least this many scenes fans its segment encoding out as child jobs on the
     * `segments` queue, which any worker takes; fewer are encoded inside the render's own job
     * (the queue round trips cost more than they save).
     */
    RENDER_FANOUT_MIN_SCENES: z.coerce.number().int().min(2).default(4),
    /** Queues this worker consumes (comma separated); empty = all. */
    WORKER_QUEUES: csv.default(''),
    /** Port of the worker's /metrics endpoint (0 = random, for tests). */
    METRICS_PORT: z.coerce.number().int().min(0).max(65535).default(9464),
    /** JSON file replacing the default plan catalogue. */
    PLANS_FILE: z.string().optional(),
    /** Days an output is kept before the sweeper deletes it. */
    OUTPUT_RETENTION_DAYS: z.coerce.number().positive().default(30),
    /** Grace period between an account deletion request and the deletion. */
    ACCOUNT_DELETION_GRACE_SECONDS: z.coerce.number().int().min(0).default(86_400),
    /** Account export: outputs up to this many bytes in total go into the ZIP; the rest are listed as signed links. */
    EXPORT_INLINE_OUTPUTS_MAX_BYTES: z.coerce.number().int().min(0).default(1_073_741_824),
    /** Deadline of one step operation (TTS, image) in seconds; compose scales with video length. */
    STEP_TIMEOUT_SECONDS: z.coerce.number().positive().default(60),
    /** How often the reconciler compares Postgres's open jobs with BullMQ. */
    RECONCILE_INTERVAL_SECONDS: z.coerce.number().positive().default(30),
    /** An open job must have been quiet this long before the reconciler re-enqueues it. */
    RECONCILE_QUIET_SECONDS: z.coerce.number().min(0).default(15),
    /** Multiplies every retry backoff (1 = the catalog's delays; tests use a small factor). */
    JOB_BACKOFF_SCALE: z.coerce.number().positive().max(100).default(1),
    /** Hosts/IPs/CIDRs that fetched URLs (image_url, callback_url) may resolve to even if private. */
    FETCH_ALLOW_PRIVATE: csv
      .default('')
      .refine(
        (entries) => entries.every(isHostIpOrCidr),
        'each entry must be an IP address, a CIDR or a hostname',
      ),
    /** Hosted TTS provider URL; unset: espeak-ng on the worker. */
    TTS_HTTP_URL: z.string().url().optional(),
    TTS_HTTP_API_KEY: z.string().optional(),
    /** Limit of one request to the hosted TTS provider, in seconds. */
    TTS_HTTP_TIMEOUT_SECONDS: z.coerce.number().positive().default(15),
    /** Tries of the hosted TTS provider per narration before falling back (the first included). */
    TTS_HTTP_ATTEMPTS: z.coerce.number().int().min(1).max(10).default(3),
    /** Seconds the TTS circuit breaker stays open before it lets one request through (half-open). */
    TTS_BREAKER_RESET_SECONDS: z.coerce.number().positive().default(30),
    /** What speaks when the hosted TTS provider cannot: `espeak` (espeak-ng on the worker) or `none` (the job fails with tts_unavailable). */
    TTS_FALLBACK: z.enum(['espeak', 'none']).default('espeak'),
    /** API rate limits per tenant-user or API key. */
    RATE_LIMIT_PER_MINUTE: z.coerce.number().int().positive().default(60),
    RATE_LIMIT_BURST_PER_SECOND: z.coerce.number().int().positive().default(10),
    /**
     * How long an API replica may serve an API key, session or tenant plan from memory. Changes
     * made through the API reach every replica at once (the tenant generation); this bounds only
     * changes made behind its back (SQL by hand). 0: read Postgres on every request.
     */
    AUTH_CACHE_TTL_MS: z.coerce.number().int().min(0).max(300_000).default(5_000),
    /** Magic-link emails per address and per client IP in 15 minutes. */
    MAGIC_LINK_PER_EMAIL: z.coerce.number().int().positive().default(5),
    MAGIC_LINK_PER_IP: z.coerce.number().int().positive().default(20),
    /** Express `trust proxy` setting (e.g. 1 behind one load balancer). */
    TRUST_PROXY: z.string().default('loopback'),
    /** Password (user `ops`) of the operator routes (/admin/queues, GET /v1/ops/backups); unset: neither exists. */
    OPS_TOKEN: z.string().min(24, 'must be at least 24 characters').optional(),
    /** Key of backup encryption (AES-256-GCM): 32 bytes as 64 hex characters or base64. Unset: backups are stored unencrypted. */
    BACKUP_ENCRYPTION_KEY: z
      .string()
      .refine((v) => parseBackupKey(v) !== null, 'must be 32 bytes as 64 hex characters or base64')
      .optional(),
    /** Directory holding pg_dump and pg_restore; unset: PATH, then /usr/lib/postgresql/<server major>/bin. */
    BACKUP_PG_BIN_DIR: z.string().optional(),
    /** Limit of one pg_dump or pg_restore run, in seconds. */
    BACKUP_TIMEOUT_SECONDS: z.coerce.number().positive().default(3600),
    /** Key encrypting third-party tokens at rest (the YouTube refresh token), AES-256-GCM: 32 bytes as 64 hex characters or base64. Unset: connecting a channel answers 503. */
    INTEGRATIONS_ENCRYPTION_KEY: z
      .string()
      .refine((v) => parseBackupKey(v) !== null, 'must be 32 bytes as 64 hex characters or base64')
      .optional(),
    /** OAuth client of the Google Cloud project (type "Web application"); unset: connecting a channel answers 503. */
    GOOGLE_OAUTH_CLIENT_ID: z.string().min(1).optional(),
    GOOGLE_OAUTH_CLIENT_SECRET: z.string().min(1).optional(),
    /** Google's authorization endpoint (a local fake in tests). */
    GOOGLE_OAUTH_AUTHORIZE_URL: z.string().url().default('https://accounts.google.com/o/oauth2/v2/auth'),
    /** Google's token endpoint: code exchange and refresh. */
    GOOGLE_OAUTH_TOKEN_URL: z.string().url().default('https://oauth2.googleapis.com/token'),
    /** Google's revocation endpoint (disconnect). */
    GOOGLE_OAUTH_REVOKE_URL: z.string().url().default('https://oauth2.googleapis.com/revoke'),
    /** YouTube Data API v3 resumable upload endpoint of videos.insert. */
    YOUTUBE_UPLOAD_URL: z.string().url().default('https://www.googleapis.com/upload/youtube/v3/videos'),
    /** Bytes per upload request; a multiple of 256 KiB, as the resumable protocol requires (default 8 MiB). */
    YOUTUBE_CHUNK_BYTES: z.coerce
      .number()
      .int()
      .min(262_144)
      .refine((v) => v % 262_144 === 0, 'must be a multiple of 262144 (256 KiB)')
      .default(8 * 1_048_576),
    /** Limit of one request to Google (token, revoke, one upload chunk's answer), in seconds. */
    GOOGLE_HTTP_TIMEOUT_SECONDS: z.coerce.number().positive().max(3600).default(60),
    /**
     * Freshdesk account of support tickets: `acme.freshdesk.com` (https) or a full base URL. With
     * FRESHDESK_API_KEY, tickets become Freshdesk tickets; without, they are mailed to SUPPORT_EMAIL.
     */
    FRESHDESK_DOMAIN: z.string().min(1).optional(),
    FRESHDESK_API_KEY: z.string().min(1).optional(),
    /** Limit of one Freshdesk API call, in seconds. */
    FRESHDESK_TIMEOUT_SECONDS: z.coerce.number().positive().default(10),
    /** Where support tickets are mailed when Freshdesk is not configured; unset: the dev outbox. */
    SUPPORT_EMAIL: z.string().email().optional(),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    /** Hours a tenant's events are kept in its Redis stream at least (resumable with Last-Event-ID). */
    EVENTS_RETENTION_HOURS: z.coerce
      .number()
      .min(24)
      .max(24 * 30)
      .default(24),
    /** Seconds between SSE heartbeats (`: ping`) on `GET /v1/events`. */
    EVENTS_HEARTBEAT_SECONDS: z.coerce.number().positive().max(300).default(15),
    /** Bytes an SSE client may fall behind before it is disconnected (it resumes with Last-Event-ID). */
    EVENTS_MAX_BUFFER_BYTES: z.coerce.number().int().min(1024).default(1_048_576),
    /** At most one `job.progress` event per job per this many milliseconds. */
    EVENTS_PROGRESS_INTERVAL_MS: z.coerce.number().int().min(0).default(1_000),
    /** How long SIGTERM may drain (in-flight requests, running jobs) before the process gives up and exits 1. */
    SHUTDOWN_GRACE_SECONDS: z.coerce.number().int().positive().default(60),
    /** Set to `false` to keep the process from spawning the scheduled maintenance jobs. */
    SCHEDULER_ENABLED: bool.default('true'),
  })
  .superRefine((c, ctx) => {
    if (c.NODE_ENV === 'production' && !c.JWT_SECRET) {
      ctx.addIssue({ code: 'custom', path: ['JWT_SECRET'], message: 'required in production' });
    }
    const s3Vars = [c.S3_ENDPOINT, c.S3_PUBLIC_ENDPOINT, c.S3_ACCESS_KEY_ID, c.S3_SECRET_ACCESS_KEY];
    if (!c.S3_BUCKET && s3Vars.some(Boolean)) {
      // Refuse rather than silently write outputs to the local disk of one replica.
      ctx.addIssue({ code: 'custom', path: ['S3_BUCKET'], message: 'required when any other S3_* is set' });
    }
    if (Boolean(c.FRESHDESK_DOMAIN) !== Boolean(c.FRESHDESK_API_KEY)) {
      ctx.addIssue({
        code: 'custom',
        path: [c.FRESHDESK_DOMAIN ? 'FRESHDESK_API_KEY' : 'FRESHDESK_DOMAIN'],
        message: 'FRESHDESK_DOMAIN and FRESHDESK_API_KEY go together',
      });
    }
    if (Boolean(c.S3_ACCESS_KEY_ID) !== Boolean(c.S3_SECRET_ACCESS_KEY)) {
      ctx.addIssue({
        code: 'custom',
        path: [c.S3_ACCESS_KEY_ID ? 'S3_SECRET_ACCESS_KEY' : 'S3_ACCESS_KEY_ID'],
        message: 'S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY go together',
      });
    }
  })
  .transform((c) => ({
    ...c,
    PUBLIC_URL: (c.PUBLIC_URL ?? `http://localhost:${c.PORT}`).replace(/\/+$/, ''),
    JWT_SECRET: c.JWT_SECRET ?? DEV_JWT_SECRET,
    /** REDIS_URL and REDIS_CLUSTER_NODES together: what `createRedis` connects to. */
    redisTarget: parseRedisTarget(c.REDIS_URL, c.REDIS_CLUSTER_NODES)!,
    usingDevJwtSecret: !c.JWT_SECRET,
  }));

export type Config = z.output<typeof configSchema>;

/** Raised when the environment does not parse; its message names every bad variable. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Parses the environment once. Throws ConfigError naming each invalid or missing variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  // Empty strings mean "unset" (compose files and .env templates leave them blank).
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = configSchema.safeParse(cleaned);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  return parsed.data;
}
