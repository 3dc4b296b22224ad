import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConfigError, configSchema, loadConfig } from './config.ts';

function errorOf(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('loadConfig accepted an invalid environment');
}

describe('loadConfig', () => {
  it('when nothing is set, then the product defaults apply', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      NODE_ENV: 'development',
      PORT: 3000,
      PUBLIC_URL: 'http://localhost:3000',
      ACCESS_TOKEN_TTL_SECONDS: 86_400,
      REFRESH_TOKEN_TTL_SECONDS: 2_592_000,
      RATE_LIMIT_PER_MINUTE: 60,
      RATE_LIMIT_BURST_PER_SECOND: 10,
      OUTPUT_RETENTION_DAYS: 30,
      ACCOUNT_DELETION_GRACE_SECONDS: 86_400,
      WORKER_QUEUES: [],
      SCHEDULER_ENABLED: true,
      usingDevJwtSecret: true,
    });
    expect(c.SMTP_URL).toBeUndefined();
  });

  it('when a variable is an empty string, then it counts as unset', () => {
    const c = loadConfig({ PORT: '', SMTP_URL: '', PUBLIC_URL: 'https://api.example.com/' });
    expect(c.PORT).toBe(3000);
    expect(c.SMTP_URL).toBeUndefined();
    expect(c.PUBLIC_URL).toBe('https://api.example.com');
  });

  it('when PORT is not a port, then the error names PORT', () => {
    for (const PORT of ['notaport', '70000', '-1', '3.5']) {
      expect(errorOf({ PORT }).message).toMatch(/^\s+PORT: /m);
    }
  });

  it('when API_PROCESSES is a count, auto or 0, then it is that many processes; anything else is named', () => {
    expect(loadConfig({}).API_PROCESSES).toBe(1);
    expect(loadConfig({ API_PROCESSES: '4' }).API_PROCESSES).toBe(4);
    const cores = Math.min(os.availableParallelism(), 64);
    expect(loadConfig({ API_PROCESSES: 'auto' }).API_PROCESSES).toBe(cores);
    expect(loadConfig({ API_PROCESSES: '0' }).API_PROCESSES).toBe(cores);
    for (const API_PROCESSES of ['-1', '1.5', 'two', 'AUTO ', '65']) {
      expect(errorOf({ API_PROCESSES }).message).toMatch(/^\s+API_PROCESSES: /m);
    }
  });

  it('when DATABASE_URL is not a URL, then the error names DATABASE_URL', () => {
    expect(errorOf({ DATABASE_URL: 'localhost/rendermill' }).message).toMatch(/^\s+DATABASE_URL: /m);
  });

  it('when NODE_ENV is production and JWT_SECRET is missing, then the error names JWT_SECRET', () => {
    const err = errorOf({ NODE_ENV: 'production' });
    expect(err.message).toMatch(/^\s+JWT_SECRET: required in production/m);
    expect(() => loadConfig({ NODE_ENV: 'production', JWT_SECRET: 's'.repeat(32) })).not.toThrow();
  });

  it('when several variables are bad, then every one of them is named', () => {
    const err = errorOf({ PORT: 'x', REDIS_URL: 'nope', JWT_SECRET: 'short', LOG_LEVEL: 'loud' });
    for (const name of ['PORT', 'REDIS_URL', 'JWT_SECRET', 'LOG_LEVEL']) {
      expect(err.message).toContain(`${name}: `);
    }
  });

  it('when FETCH_ALLOW_PRIVATE holds something that is not an IP, CIDR or hostname, then startup names it', () => {
    expect(errorOf({ FETCH_ALLOW_PRIVATE: '127.0.0.1,not a host!' }).message).toMatch(/FETCH_ALLOW_PRIVATE/);
    expect(errorOf({ FETCH_ALLOW_PRIVATE: '10.0.0.0/33' }).message).toMatch(/FETCH_ALLOW_PRIVATE/);
    expect(
      loadConfig({ FETCH_ALLOW_PRIVATE: '127.0.0.1, 10.0.0.0/8, tts.internal, ::1' }).FETCH_ALLOW_PRIVATE,
    ).toEqual(['127.0.0.1', '10.0.0.0/8', 'tts.internal', '::1']);
  });

  it('when S3_BUCKET and the other S3 settings are given, then S3 storage is configured', () => {
    const c = loadConfig({
      S3_ENDPOINT: 'http://127.0.0.1:9000',
      S3_BUCKET: 'rendermill',
      S3_ACCESS_KEY_ID: 'k',
      S3_SECRET_ACCESS_KEY: 's',
      S3_FORCE_PATH_STYLE: 'true',
    });
    expect(c).toMatchObject({ S3_BUCKET: 'rendermill', S3_REGION: 'us-east-1', S3_FORCE_PATH_STYLE: true });
  });

  it('when S3 settings come without S3_BUCKET, then startup stops naming S3_BUCKET', () => {
    expect(errorOf({ S3_ENDPOINT: 'https://s3.example.com' }).message).toContain('S3_BUCKET');
  });

  it('when only one of the S3 key pair is given, then the error names the missing one', () => {
    expect(errorOf({ S3_BUCKET: 'rendermill', S3_ACCESS_KEY_ID: 'k' }).message).toContain(
      'S3_SECRET_ACCESS_KEY',
    );
    expect(errorOf({ S3_BUCKET: 'Not_A_Bucket' }).message).toContain('S3_BUCKET');
  });

  it('when REDIS_URL names a cluster or REDIS_CLUSTER_NODES is set, then the target is a cluster of those nodes', () => {
    expect(loadConfig({}).redisTarget).toEqual({ kind: 'single', url: 'redis://127.0.0.1:6379/0' });
    expect(loadConfig({ REDIS_URL: 'redis-cluster://:s3cret@h1:7000,10.0.0.2:7001' }).redisTarget).toEqual({
      kind: 'cluster',
      nodes: [
        { host: 'h1', port: 7000 },
        { host: '10.0.0.2', port: 7001 },
      ],
      password: 's3cret',
      tls: false,
    });
    expect(
      loadConfig({ REDIS_URL: 'rediss://u:p@ignored:6379', REDIS_CLUSTER_NODES: 'a:1, b:2' }).redisTarget,
    ).toEqual({
      kind: 'cluster',
      nodes: [
        { host: 'a', port: 1 },
        { host: 'b', port: 2 },
      ],
      username: 'u',
      password: 'p',
      tls: true,
    });
    expect(errorOf({ REDIS_URL: 'redis-cluster://h1' }).message).toContain('REDIS_URL');
    expect(errorOf({ REDIS_CLUSTER_NODES: 'h1:99999' }).message).toContain('REDIS_CLUSTER_NODES');
  });
});

describe('.env.example', () => {
  const root = fileURLToPath(new URL('../..', import.meta.url));
  const entries = readFileSync(path.join(root, '.env.example'), 'utf8')
    .split('\n')
    .map((line) => /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => [m[1] as string, m[2] as string] as const);

  it('when the schema has a variable, then .env.example documents it (and nothing else)', () => {
    const documented = entries.map(([k]) => k).sort();
    const known = Object.keys(configSchema.innerType().innerType().shape).sort();
    expect(documented).toEqual(known);
  });

  it('when .env.example is loaded as is, then it yields exactly the defaults', () => {
    expect(loadConfig(Object.fromEntries(entries))).toEqual(loadConfig({}));
  });
});

describe('process start with a bad configuration', () => {
  it('when PORT is invalid, then the runner exits non-zero and stderr names PORT', async () => {
    const root = fileURLToPath(new URL('../..', import.meta.url));
    const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      execFile(
        path.join(root, 'node_modules/.bin/tsx'),
        ['shared/process/run.ts'],
        // Any other variable of the caller could be the one that fails; keep only what node needs.
        {
          cwd: root,
          env: { PATH: process.env.PATH, HOME: process.env.HOME, PORT: 'notaport' },
          timeout: 30_000,
        },
        (err, _stdout, stderr) => resolve({ code: err ? (err.code as number | null) : 0, stderr }),
      );
    });
    expect(code).not.toBe(0);
    expect(code).not.toBeNull();
    expect(stderr).toContain('Invalid configuration');
    expect(stderr).toMatch(/^\s+PORT: /m);
    // A config error is the operator's, not a crash: no stack trace.
    expect(stderr).not.toMatch(/^\s+at /m);
  });
});
