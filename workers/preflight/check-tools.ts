import { readdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { TimeoutError, withTimeout } from '../../shared/async/with-timeout.ts';
import { parseEncoderList } from '../media/audio.ts';
import { ProcessFailedError } from '../media/process-failed-error.ts';
import { runProcess } from '../media/run-process.ts';
import { ALL_TOOLS, type Tool } from './tools.ts';

/** One tool a worker needs and cannot use, with what is wrong in words an operator acts on. */
export interface ToolProblem {
  tool: Tool;
  problem: string;
}

/** Options for {@link checkTools}. */
export interface CheckToolsOptions {
  /** Longest wait for one probe (a program's answer, the font search), in ms. Default: 5 000. */
  timeoutMs?: number;
  /**
   * Directories searched, with their subdirectories, for the font files, and nothing else. Default:
   * the system and user font directories of Linux and macOS (those that exist), then `fc-list`, when
   * it is on PATH, for fonts that fontconfig finds elsewhere.
   */
  fontDirs?: readonly string[];
  /** The executables to probe. Default: `ffmpeg`, `ffprobe`, `espeak-ng` from PATH. */
  programs?: Partial<Record<'ffmpeg' | 'ffprobe' | 'espeak-ng', string>>;
}

/** Encoders the render composer uses (workers/media/compose.ts): H.264 video, AAC audio. */
export const REQUIRED_ENCODERS = ['libx264', 'aac'] as const;

/** The fonts scene cards draw with (workers/media/scene-card.ts): DejaVu Sans Book and Bold. */
export const DEJAVU_FILES = ['DejaVuSans.ttf', 'DejaVuSans-Bold.ttf'] as const;

const DEFAULT_TIMEOUT_MS = 5_000;

function defaultFontDirs(): string[] {
  const home = os.homedir();
  return [
    '/usr/share/fonts',
    '/usr/local/share/fonts',
    path.join(home, '.local/share/fonts'),
    path.join(home, '.fonts'),
    // macOS: Homebrew's font cask installs into ~/Library/Fonts.
    path.join(home, 'Library/Fonts'),
    '/Library/Fonts',
    '/System/Library/Fonts',
    '/opt/homebrew/share/fonts',
  ];
}

/** Runs `cmd args` under a deadline: its stdout when it exits 0, else why it could not answer. */
async function probe(
  cmd: string,
  args: string[],
  timeoutMs: number,
): Promise<{ stdout: string } | { problem: string }> {
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    return await runProcess(cmd, args, { signal });
  } catch (error) {
    if (signal.aborted)
      return { problem: `\`${cmd} ${args.join(' ')}\` did not answer within ${timeoutMs} ms` };
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { problem: 'not found on PATH' };
    if (error instanceof ProcessFailedError)
      return { problem: `\`${cmd} ${args.join(' ')}\` failed: ${error.message}` };
    return { problem: `\`${cmd}\` could not be run: ${(error as Error).message}` };
  }
}

async function checkFfmpeg(cmd: string, timeoutMs: number): Promise<string | undefined> {
  const answer = await probe(cmd, ['-hide_banner', '-encoders'], timeoutMs);
  if ('problem' in answer) return answer.problem;
  const encoders = parseEncoderList(answer.stdout);
  const lacking = REQUIRED_ENCODERS.filter((e) => !encoders.has(e));
  if (lacking.length === 0) return undefined;
  return `this build has no ${lacking.join(' and no ')} encoder (\`ffmpeg -hide_banner -encoders\`)`;
}

async function checkVersion(cmd: string, flag: string, timeoutMs: number): Promise<string | undefined> {
  const answer = await probe(cmd, [flag], timeoutMs);
  return 'problem' in answer ? answer.problem : undefined;
}

/** Basenames among `names` found under `dirs` (recursively); unreadable or absent dirs are skipped. */
async function filesUnder(dirs: readonly string[], names: readonly string[]): Promise<Set<string>> {
  const found = new Set<string>();
  for (const dir of dirs) {
    const entries = await readdir(dir, { recursive: true }).catch(() => [] as string[]);
    for (const entry of entries) {
      const base = path.basename(entry);
      if (names.includes(base)) found.add(base);
    }
  }
  return found;
}

async function checkFonts(timeoutMs: number, given?: readonly string[]): Promise<string | undefined> {
  const dirs = given ?? defaultFontDirs();
  let found: Set<string>;
  try {
    found = await withTimeout(filesUnder(dirs, DEJAVU_FILES), timeoutMs, 'the font search');
  } catch (err) {
    if (err instanceof TimeoutError) return `the font search did not finish within ${timeoutMs} ms`;
    throw err;
  }
  if (found.size < DEJAVU_FILES.length && !given) {
    // Fonts in a directory only fontconfig knows of (librsvg finds them through it).
    const listed = await probe('fc-list', [':', 'file'], timeoutMs);
    if ('stdout' in listed) {
      for (const line of listed.stdout.split('\n'))
        found.add(path.basename(line.replace(/:\s*$/, '').trim()));
    }
  }
  const lacking = DEJAVU_FILES.filter((f) => !found.has(f));
  return lacking.length ? `${lacking.join(' and ')} not found in ${dirs.join(', ')}` : undefined;
}

/**
 * Checks that each of `tools` is usable here: the programs answer on PATH (ffmpeg with the libx264 and
 * AAC encoders), the DejaVu font files exist. All probes run at once, each bounded by `timeoutMs`.
 * Resolves with one problem per unusable tool, in {@link ALL_TOOLS} order; empty when all are fine.
 */
export async function checkTools(
  tools: Iterable<Tool>,
  options: CheckToolsOptions = {},
): Promise<ToolProblem[]> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const wanted = new Set(tools);
  const program = { ffmpeg: 'ffmpeg', ffprobe: 'ffprobe', 'espeak-ng': 'espeak-ng', ...options.programs };
  const checks: Record<Tool, () => Promise<string | undefined>> = {
    ffmpeg: () => checkFfmpeg(program.ffmpeg, timeoutMs),
    ffprobe: () => checkVersion(program.ffprobe, '-version', timeoutMs),
    'espeak-ng': () => checkVersion(program['espeak-ng'], '--version', timeoutMs),
    'dejavu-fonts': () => checkFonts(timeoutMs, options.fontDirs),
  };
  const order = ALL_TOOLS.filter((t) => wanted.has(t));
  const results = await Promise.all(order.map((t) => checks[t]()));
  return order.flatMap((tool, i) => {
    const problem = results[i];
    return problem === undefined ? [] : [{ tool, problem }];
  });
}
