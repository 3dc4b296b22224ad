import path from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../config/config.ts';
import { createStorage } from './create-storage.ts';
import { createLocalStorage } from './local-storage.ts';
import { migrateStorage } from './storage-migrate.ts';

/**
 * `npm run storage:migrate [-- --from DIR] [--journal FILE] [--concurrency N]`: copies the local
 * store (default STORAGE_DIR) into the S3 bucket of the S3_* settings, verifying every copy's
 * SHA-256. Interrupt it and run it again: verified copies are journaled and skipped. Exits 1 when
 * a copy failed verification (it was deleted; run again), 2 on a configuration error.
 */
const { values } = parseArgs({
  options: {
    from: { type: 'string' },
    journal: { type: 'string' },
    concurrency: { type: 'string', default: '4' },
  },
});

let config: ReturnType<typeof loadConfig>;
try {
  config = loadConfig();
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  console.error(err.message);
  process.exit(2);
}
if (!config.S3_BUCKET) {
  console.error('storage:migrate: set S3_BUCKET (and the other S3_* variables) to the target bucket');
  process.exit(2);
}
const concurrency = Number(values.concurrency);
if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64) {
  console.error('storage:migrate: --concurrency must be an integer from 1 to 64');
  process.exit(2);
}
const fromDir = path.resolve(values.from ?? config.STORAGE_DIR);
const journal = path.resolve(values.journal ?? path.join(fromDir, '.storage-migrate.jsonl'));
const target = createStorage(config);
try {
  let done = 0;
  const result = await migrateStorage({
    from: createLocalStorage(fromDir),
    to: target.storage,
    journal,
    concurrency,
    onProgress: ({ key, outcome }) => {
      done++;
      if (outcome === 'failed' || done % 100 === 0) console.log(`${done} ${outcome} ${key}`);
    },
  });
  console.log(JSON.stringify({ from: fromDir, bucket: config.S3_BUCKET, journal, ...result }));
  process.exitCode = result.failed.length ? 1 : 0;
} finally {
  target.close();
}
