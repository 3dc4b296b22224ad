import type { Config } from '../config/config.ts';
import { createLocalStorage } from './local-storage.ts';
import { createS3Storage } from './s3-storage.ts';
import type { Storage } from './storage.ts';

/** The configured store plus a `close()` for the composition root's `stop()`. */
export interface ConfiguredStorage {
  storage: Storage;
  /** `s3` when S3_BUCKET is set, else `local` (STORAGE_DIR). */
  backend: 'local' | 's3';
  close(): void;
}

/** S3 when S3_BUCKET is set (see the S3_* variables), otherwise the STORAGE_DIR directory. */
export function createStorage(config: Config): ConfiguredStorage {
  if (!config.S3_BUCKET) {
    return { storage: createLocalStorage(config.STORAGE_DIR), backend: 'local', close: () => undefined };
  }
  const s3 = createS3Storage({
    bucket: config.S3_BUCKET,
    region: config.S3_REGION,
    endpoint: config.S3_ENDPOINT,
    publicEndpoint: config.S3_PUBLIC_ENDPOINT,
    forcePathStyle: config.S3_FORCE_PATH_STYLE,
    credentials:
      config.S3_ACCESS_KEY_ID && config.S3_SECRET_ACCESS_KEY
        ? { accessKeyId: config.S3_ACCESS_KEY_ID, secretAccessKey: config.S3_SECRET_ACCESS_KEY }
        : undefined,
    requestTimeoutMs: config.S3_REQUEST_TIMEOUT_SECONDS * 1000,
  });
  return { storage: s3, backend: 's3', close: () => s3.close() };
}
