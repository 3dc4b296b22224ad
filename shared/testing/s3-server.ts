import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createS3Storage, type S3Storage, type S3StorageOptions } from '../storage/s3-storage.ts';

export interface TestS3 {
  endpoint: string;
  bucket: string;
  /** The S3_* variables that point a Rendermill process at this server. */
  vars: Record<string, string>;
  /** A client store on this server's bucket, for assertions (close it after). */
  storage(options?: Partial<S3StorageOptions>): S3Storage;
  close(): Promise<void>;
}

const MAIN = fileURLToPath(new URL('./s3rver-main.ts', import.meta.url));

async function portOf(child: ChildProcess): Promise<number> {
  const lines = createInterface({ input: child.stdout! });
  const exited = once(child, 'exit').then(([code]) => {
    throw new Error(`s3rver exited with ${String(code)} before listening`);
  });
  const first = (async () => {
    for await (const line of lines) return (JSON.parse(line) as { port: number }).port;
    throw new Error('s3rver closed its output before listening');
  })();
  return Promise.race([first, exited]);
}

/**
 * A real S3-compatible server (s3rver, in a child process) on a free loopback port, storing
 * into its own temp directory, with one bucket. `close()` stops it and removes the directory.
 */
export async function startTestS3(bucket = 'rendermill-test'): Promise<TestS3> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'rendermill-s3-'));
  const child = spawn(process.execPath, ['--openssl-legacy-provider', '--import', 'tsx', MAIN, dir, bucket], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  let port: number;
  try {
    port = await portOf(child);
  } catch (err) {
    child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    bucket,
    vars: {
      S3_ENDPOINT: endpoint,
      S3_BUCKET: bucket,
      S3_REGION: 'us-east-1',
      // s3rver's fixed development credentials.
      S3_ACCESS_KEY_ID: 'S3RVER',
      S3_SECRET_ACCESS_KEY: 'S3RVER',
      S3_FORCE_PATH_STYLE: 'true',
    },
    storage: (options = {}) =>
      createS3Storage({
        bucket,
        region: 'us-east-1',
        endpoint,
        forcePathStyle: true,
        credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
        ...options,
      }),
    async close() {
      if (child.exitCode === null) {
        const exited = once(child, 'exit');
        child.stdin?.end();
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
