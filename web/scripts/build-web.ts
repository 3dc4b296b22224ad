import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';

/**
 * Builds the dashboard when `web/dist` is missing or older than its sources: `npm start` runs this
 * first (`--if-stale`), `npm run build:web` always builds. "Older" is decided by a hash of the
 * sources (not mtimes, which a checkout resets), stored in `dist/.source-hash`. Every build is
 * checked: no inline script (the API's CSP forbids it), no external URL in index.html, and the JS
 * within its gzip budget.
 */
const WEB = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ROOT = path.dirname(WEB);
export const DIST = path.join(WEB, 'dist');
const STAMP = path.join(DIST, '.source-hash');
/** Budget of all JS the first page loads, gzipped. */
export const JS_BUDGET_GZIP_BYTES = 250 * 1024;

const INPUTS = [
  'web/index.html',
  'web/vite.config.ts',
  'web/package.json',
  'web/tsconfig.json',
  'sdk/package.json',
  'package-lock.json',
];
const INPUT_DIRS = ['web/src', 'web/public', 'load/fixtures', 'sdk/src'];

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath, e.name))
    .sort();
}

export function sourceHash(): string {
  const h = createHash('sha256');
  const files = [
    ...INPUTS.map((f) => path.join(ROOT, f)),
    ...INPUT_DIRS.flatMap((d) => filesUnder(path.join(ROOT, d))),
  ];
  for (const f of files) {
    h.update(path.relative(ROOT, f));
    h.update('\0');
    h.update(existsSync(f) ? readFileSync(f) : '');
    h.update('\0');
  }
  return h.digest('hex');
}

export function isStale(): boolean {
  return (
    !existsSync(path.join(DIST, 'index.html')) ||
    !existsSync(STAMP) ||
    readFileSync(STAMP, 'utf8') !== sourceHash()
  );
}

export interface BuildReport {
  built: boolean;
  jsGzipBytes: number;
  jsFiles: string[];
}

/** Inspects a finished build; throws when it breaks the CSP or the budget. */
export function checkBuild(): BuildReport {
  const html = readFileSync(path.join(DIST, 'index.html'), 'utf8');
  const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
  for (const [, attrs = '', body = ''] of scripts) {
    if (!/\bsrc=/.test(attrs) || body.trim() !== '')
      throw new Error('web build has an inline script (the CSP forbids it)');
  }
  if (/\b(src|href)="(https?:)?\/\//.test(html))
    throw new Error('web build loads something from another host');
  if (/\son[a-z]+=/i.test(html)) throw new Error('web build has an inline event handler');
  const jsFiles = filesUnder(path.join(DIST, 'assets')).filter((f) => f.endsWith('.js'));
  const jsGzipBytes = jsFiles.reduce((n, f) => n + gzipSync(readFileSync(f)).length, 0);
  if (jsGzipBytes > JS_BUDGET_GZIP_BYTES)
    throw new Error(`web JS is ${jsGzipBytes} bytes gzipped, over the ${JS_BUDGET_GZIP_BYTES} budget`);
  return { built: false, jsGzipBytes, jsFiles: jsFiles.map((f) => path.relative(DIST, f)) };
}

/** Builds with Vite when needed (or always with `force`), then checks the output. */
export async function ensureWebBuild(opts: { force?: boolean; quiet?: boolean } = {}): Promise<BuildReport> {
  let built = false;
  if (opts.force || isStale()) {
    const hash = sourceHash();
    // A child process with NODE_ENV=production: Vite follows NODE_ENV, and a test runner's
    // `test` would give React's development build.
    const vite = path.join(ROOT, 'node_modules', 'vite', 'bin', 'vite.js');
    const args = [
      vite,
      'build',
      '--config',
      path.join(WEB, 'vite.config.ts'),
      '--logLevel',
      opts.quiet ? 'warn' : 'info',
    ];
    const { stdout, stderr } = await promisify(execFile)(process.execPath, args, {
      cwd: ROOT,
      env: { ...process.env, NODE_ENV: 'production' },
      maxBuffer: 16 * 1024 * 1024,
    });
    if (!opts.quiet) process.stdout.write(stdout + stderr);
    writeFileSync(STAMP, hash);
    built = true;
  }
  return { ...checkBuild(), built };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const ifStale = process.argv.includes('--if-stale');
  const report = await ensureWebBuild({ force: !ifStale });
  console.log(
    `dashboard: ${report.built ? 'built' : 'up to date'} (web/dist), JS ${(report.jsGzipBytes / 1024).toFixed(1)} KB gzipped`,
  );
}
