import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StartupError } from '../../shared/process/startup-error.ts';
import { QUEUES } from '../../shared/queue/queues.ts';
import { createCatalog } from '../registry.ts';
import { checkTools } from './check-tools.ts';
import { assertToolsFor, missingToolsMessage, toolsFor } from './preflight.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'rendermill-preflight-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** An executable shell script in the test's dir. */
async function script(name: string, body: string): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, `#!/bin/sh\n${body}\n`);
  await chmod(file, 0o755);
  return file;
}

const ENCODERS_WITHOUT_X264 = [
  'Encoders:',
  ' V..... = Video',
  ' ------',
  ' V....D libx265              libx265 H.265 / HEVC (codec hevc)',
  ' A....D aac                  AAC (Advanced Audio Coding)',
].join('\n');

describe('checkTools', () => {
  it('when this machine has every tool (as CI does), then no problem is reported', async () => {
    expect(await checkTools(['ffmpeg', 'ffprobe', 'espeak-ng', 'dejavu-fonts'])).toEqual([]);
  });

  it('when a program is not on PATH, then it is reported as not found', async () => {
    const problems = await checkTools(['ffmpeg', 'ffprobe'], {
      programs: { ffmpeg: 'rendermill-no-such-ffmpeg', ffprobe: 'rendermill-no-such-ffprobe' },
    });
    expect(problems).toEqual([
      { tool: 'ffmpeg', problem: 'not found on PATH' },
      { tool: 'ffprobe', problem: 'not found on PATH' },
    ]);
  });

  it('when ffmpeg lacks libx264, then the problem names the encoder', async () => {
    const ffmpeg = await script('ffmpeg-no-x264', `cat <<'EOF'\n${ENCODERS_WITHOUT_X264}\nEOF`);
    const [problem] = await checkTools(['ffmpeg'], { programs: { ffmpeg } });
    expect(problem?.tool).toBe('ffmpeg');
    expect(problem?.problem).toMatch(/no libx264 encoder/);
    expect(problem?.problem).not.toMatch(/aac/);
  });

  it('when a program fails, then its exit is reported', async () => {
    const ffprobe = await script('ffprobe-broken', 'echo "libavformat.so.60: cannot open" >&2; exit 127');
    const [problem] = await checkTools(['ffprobe'], { programs: { ffprobe } });
    expect(problem?.problem).toMatch(/exited with code 127: libavformat\.so\.60: cannot open/);
  });

  it('when a program does not answer, then the probe gives up at its timeout', async () => {
    const espeak = await script('espeak-hangs', 'sleep 30');
    const started = Date.now();
    const [problem] = await checkTools(['espeak-ng'], { programs: { 'espeak-ng': espeak }, timeoutMs: 300 });
    expect(problem?.problem).toMatch(/did not answer within 300 ms/);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('when the bold DejaVu file is missing, then the font problem names it', async () => {
    const fonts = path.join(dir, 'fonts', 'truetype', 'dejavu');
    await mkdir(fonts, { recursive: true });
    await writeFile(path.join(fonts, 'DejaVuSans.ttf'), '');
    const [problem] = await checkTools(['dejavu-fonts'], { fontDirs: [path.join(dir, 'fonts')] });
    expect(problem?.tool).toBe('dejavu-fonts');
    expect(problem?.problem).toMatch(/^DejaVuSans-Bold\.ttf not found in /);
    await writeFile(path.join(fonts, 'DejaVuSans-Bold.ttf'), '');
    expect(await checkTools(['dejavu-fonts'], { fontDirs: [path.join(dir, 'fonts')] })).toEqual([]);
  });
});

describe('toolsFor (from the task catalog)', () => {
  const tasks = [...createCatalog().values()];

  it('when the worker consumes render, then it needs all four tools', () => {
    expect(toolsFor(tasks, [QUEUES.render])).toEqual(['ffmpeg', 'ffprobe', 'espeak-ng', 'dejavu-fonts']);
  });

  it('when the worker consumes only callbacks, account and maintenance, then it needs none', () => {
    expect(toolsFor(tasks, [QUEUES.callbacks, QUEUES.account, QUEUES.maintenance])).toEqual([]);
  });
});

describe('missingToolsMessage', () => {
  it('when ffmpeg, ffprobe and the fonts are missing, then each is named with one install command per system', () => {
    const message = missingToolsMessage(
      [
        { tool: 'ffmpeg', problem: 'not found on PATH' },
        { tool: 'ffprobe', problem: 'not found on PATH' },
        { tool: 'dejavu-fonts', problem: 'DejaVuSans.ttf not found in /usr/share/fonts' },
      ],
      ['render'],
      ['callbacks', 'account', 'maintenance'],
    );
    expect(message).toContain('  - ffmpeg: not found on PATH');
    expect(message).toContain('  - ffprobe: not found on PATH');
    expect(message).toContain('  - dejavu-fonts: DejaVuSans.ttf not found');
    expect(message).toContain('apt-get install -y ffmpeg fonts-dejavu-core\n');
    expect(message).toContain('brew install ffmpeg && brew install --cask font-dejavu');
    expect(message).toContain('WORKER_QUEUES=callbacks,account,maintenance');
  });
});

describe('assertToolsFor', () => {
  const tasks = [...createCatalog().values()];
  const missingEspeak = { programs: { 'espeak-ng': 'rendermill-no-such-espeak' } };

  it('when espeak-ng is missing for a media worker, then it throws a StartupError naming it', async () => {
    const config = { TTS_HTTP_URL: undefined, TTS_FALLBACK: 'espeak' as const };
    const error = await assertToolsFor(config, tasks, [QUEUES.media], missingEspeak).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StartupError);
    expect((error as Error).message).toMatch(/- espeak-ng: not found on PATH/);
    expect((error as Error).message).toMatch(/apt-get install -y espeak-ng$/m);
  });

  it('when the hosted voice has no espeak fallback, then espeak-ng is not required', async () => {
    const config = { TTS_HTTP_URL: 'http://tts.internal/v1', TTS_FALLBACK: 'none' as const };
    await expect(assertToolsFor(config, tasks, [QUEUES.media], missingEspeak)).resolves.toBeUndefined();
  });
});
