import cluster from 'node:cluster';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigError, loadConfig } from '../config/config.ts';
import { createDb } from '../db/db.ts';
import { ensureDatabase, migrateLatest } from '../db/migrate.ts';
import { createLogger } from '../logging/logger.ts';
import { type ProcessCount, startCluster } from './cluster-primary.ts';
import { StartupError } from './startup-error.ts';

/**
 * Generic process runner: `tsx shared/process/run.ts [--migrate] <module.ts>...`.
 * Each module exports `start(config)` returning `{ stop() }`. `npm start` runs the API and the
 * workers in one process this way without either importing the other; SIGTERM stops them in
 * reverse order, each draining its own work.
 *
 * A module may also export `processes`: when it is the only module and asks for more than one,
 * this process becomes a node:cluster primary (shared/process/cluster-primary.ts) that forks
 * that many workers, each running this runner again with the same arguments and so the
 * module's `start(config)`.
 */
interface Service {
  stop(): Promise<void>;
}
interface ServiceModule {
  start(config: ReturnType<typeof loadConfig>): Promise<Service>;
  processes?: ProcessCount;
}

const args = process.argv.slice(2);
const migrate = args.includes('--migrate');
const modules = args.filter((a) => !a.startsWith('--'));

let config: ReturnType<typeof loadConfig>;
try {
  config = loadConfig();
} catch (err) {
  if (err instanceof ConfigError) {
    console.error(err.message);
    process.exit(1);
  }
  throw err;
}
const log = createLogger(config.LOG_LEVEL, 'process');
if (config.usingDevJwtSecret) log.warn('JWT_SECRET is not set: using the insecure development secret');

// A cluster worker runs this file again with the same arguments: its primary has migrated already.
if (migrate && cluster.isPrimary) {
  await ensureDatabase(config.DATABASE_URL);
  const db = createDb(config.DATABASE_URL, { poolMax: 2 });
  try {
    const applied = await migrateLatest(db);
    log.info({ applied }, applied.length ? 'migrations applied' : 'database is up to date');
  } finally {
    await db.destroy();
  }
}

const services: Service[] = [];
let stopping = false;
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
for (const m of modules) {
  try {
    const mod = (await import(pathToFileURL(path.resolve(m)).href)) as ServiceModule;
    services.push(await startModule(mod, m));
  } catch (err) {
    // The API may already be serving (`npm start` runs it before the worker): stop it and exit, rather
    // than keep a half-started process that takes requests for work nothing will do.
    if (err instanceof StartupError) console.error(err.message);
    else log.fatal({ err, module: m }, 'could not start');
    await shutdown('startup failure', 1);
  }
  if (stopping) break;
}

async function startModule(mod: ServiceModule, name: string): Promise<Service> {
  const p = mod.processes;
  const wanted = p?.count(config) ?? 1;
  if (!p || wanted <= 1 || cluster.isWorker) return mod.start(config);
  if (modules.length > 1) {
    // Each forked worker would run every module again (the job workers N times over).
    log.warn(
      { module: name, [p.setting]: wanted },
      `${p.setting} applies only when ${name} runs alone; running one process`,
    );
    return mod.start(config);
  }
  return startCluster({
    name: p.name,
    processes: wanted,
    logger: log,
    graceMs: config.SHUTDOWN_GRACE_SECONDS * 1000,
    onGiveUp: (reason) => void shutdown(reason, 1),
  });
}

async function shutdown(signal: string, exitCode = 0): Promise<void> {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, 'stopping');
  // A drain that never ends must not keep a deploy waiting forever.
  const force = setTimeout(() => {
    log.error('shutdown took too long; exiting');
    process.exit(1);
  }, config.SHUTDOWN_GRACE_SECONDS * 1000);
  force.unref();
  for (const s of services.reverse()) {
    await s.stop().catch((err: unknown) => log.error({ err }, 'error while stopping'));
  }
  log.info('stopped');
  process.exit(exitCode);
}
