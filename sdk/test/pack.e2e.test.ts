import { execFile } from 'node:child_process';
import { copyFile, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi } from '../../api/testing/api-harness.ts';
import { freePort } from '../../chaos/spawn-api.ts';
import { fixturePath } from '../../shared/testing/fixtures.ts';
import { start as startWorker, type WorkerProcess } from '../../workers/main.ts';
import { Rendermill } from '../src/index.ts';

const run = promisify(execFile);
const SDK = path.resolve(import.meta.dirname, '..');
const ROOT = path.resolve(SDK, '..');
const TIMEOUT = 240_000;

/**
 * The "done when", literally: `npm pack` of sdk/, installed offline into a scratch app
 * (the SDK has no runtime dependencies), whose script renders the sample with `.wait()`, sees
 * progress, downloads the MP4 and verifies the real callback with the SDK and `standardwebhooks`.
 */
describe('the packed SDK in a scratch app', () => {
  let t: TestApi;
  let worker: WorkerProcess;
  let scratch: string;
  let apiKey: string;
  let secret: string;
  beforeAll(async () => {
    // The download redirects to a link under PUBLIC_URL: it must be this API.
    const port = await freePort();
    t = await startTestApi({
      PORT: String(port),
      PUBLIC_URL: `http://127.0.0.1:${port}`,
      FETCH_ALLOW_PRIVATE: '127.0.0.1',
      EVENTS_PROGRESS_INTERVAL_MS: '0',
      RATE_LIMIT_BURST_PER_SECOND: '1000',
      RATE_LIMIT_PER_MINUTE: '100000',
    });
    worker = await startWorker(t.env.config);
    const s = await t.signIn('pack@example.com');
    const owner = new Rendermill({ accessToken: s.access_token, baseUrl: t.api.url });
    apiKey = (await owner.apiKeys.create({ name: 'scratch app', role: 'member' })).key;
    secret = (await owner.http.json<{ secret: string }>('GET', '/v1/webhook-secret')).secret;
    scratch = await mkdtemp(path.join(os.tmpdir(), 'rendermill-scratch-'));
  }, TIMEOUT);
  afterAll(async () => {
    await worker?.stop();
    await t?.close();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  it(
    'when the tarball is installed offline, then the app renders with .wait(), downloads a playable MP4 and verifies the callback',
    async () => {
      // prepack builds dist/; --json names the tarball and lists what it ships.
      const packed = await run('npm', ['pack', '--json', '--pack-destination', scratch], {
        cwd: SDK,
        maxBuffer: 10 * 1024 * 1024,
      });
      const [info] = JSON.parse(packed.stdout) as Array<{
        filename: string;
        size: number;
        files: Array<{ path: string }>;
      }>;
      const files = info!.files.map((f) => f.path);
      expect(files).toEqual(expect.arrayContaining(['dist/index.js', 'dist/index.d.ts', 'dist/cli.js']));
      expect(files.filter((f) => f.startsWith('src/') || f.startsWith('test/'))).toEqual([]);
      const manifest = JSON.parse(await readFile(path.join(SDK, 'package.json'), 'utf8'));
      expect(manifest.dependencies ?? {}).toEqual({}); // nothing to fetch when installing it
      console.log(`@rendermill/sdk tarball: ${info!.filename}, ${info!.size} B, ${files.length} files`);

      const tarball = path.join(scratch, info!.filename);
      await writeFile(
        path.join(scratch, 'package.json'),
        JSON.stringify({ name: 'scratch', private: true, type: 'module' }),
      );
      await copyFile(path.join(import.meta.dirname, 'scratch-app/app.mjs'), path.join(scratch, 'app.mjs'));
      await run('npm', ['install', '--offline', '--no-audit', '--no-fund', tarball], { cwd: scratch });
      // The app's verification library is the repository's copy (its own dependencies' registry
      // metadata is not in the offline cache); the package under test is the installed tarball.
      await symlink(
        path.join(ROOT, 'node_modules/standardwebhooks'),
        path.join(scratch, 'node_modules/standardwebhooks'),
      );
      expect(await readdir(path.join(scratch, 'node_modules/@rendermill/sdk/dist'))).toContain('index.js');

      const cliHelp = await run(path.join(scratch, 'node_modules/.bin/rendermill'), ['--help'], {
        cwd: scratch,
      });
      expect(cliHelp.stdout).toContain('listen --forward-to URL');

      const output = path.join(scratch, 'v.mp4');
      const app = await run(process.execPath, ['app.mjs'], {
        cwd: scratch,
        env: {
          PATH: process.env.PATH ?? '',
          RENDERMILL_API_KEY: apiKey,
          RENDERMILL_BASE_URL: t.api.url,
          SCENES: fixturePath('render-short'),
          OUTPUT: output,
          WEBHOOK_SECRET: secret,
        },
      });
      const result = JSON.parse(app.stdout.trim().split('\n').at(-1)!);
      expect(result.job.status).toBe('succeeded');
      const progress = (result.progress as Array<{ p: number; type: string | null }>).map((x) => x.p);
      expect(progress.length).toBeGreaterThan(2);
      expect([...progress].sort((a, b) => a - b)).toEqual(progress);
      expect(result.progress.some((x: { type: string | null }) => x.type?.startsWith('job.'))).toBe(true);
      expect(result.download).toMatchObject({ path: output, contentType: 'video/mp4' });
      expect(result.download.bytes).toBeGreaterThan(10_000);
      expect(result.callback).toEqual({
        sdk: { type: 'job.succeeded', jobId: result.job.id },
        library: { type: 'job.succeeded', jobId: result.job.id },
        tamperedRefused: true,
      });

      const probe = await run('ffprobe', [
        '-v',
        'error',
        '-show_entries',
        'format=format_name,duration:stream=codec_type,codec_name',
        '-of',
        'json',
        output,
      ]);
      const media = JSON.parse(probe.stdout) as {
        format: { format_name: string; duration: string };
        streams: Array<{ codec_type: string; codec_name: string }>;
      };
      expect(media.format.format_name).toContain('mp4');
      expect(Number(media.format.duration)).toBeGreaterThan(3);
      expect(media.streams.map((s) => s.codec_type).sort()).toEqual(['audio', 'video']);
    },
    TIMEOUT,
  );
});
