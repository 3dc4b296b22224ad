import type { Config } from '../../shared/config/config.ts';
import { StartupError } from '../../shared/process/startup-error.ts';
import { ALL_QUEUES, type QueueName } from '../../shared/queue/queues.ts';
import { type CheckToolsOptions, checkTools, type ToolProblem } from './check-tools.ts';
import { ALL_TOOLS, INSTALL, type Tool } from './tools.ts';

/** What a task declares about itself that the preflight needs (an entry of `workers/registry.ts`). */
interface ToolUser {
  queue: QueueName;
  tools: readonly Tool[];
}

/** The tools the tasks of `queues` declare, in {@link ALL_TOOLS} order. */
export function toolsFor(tasks: Iterable<ToolUser>, queues: readonly QueueName[]): Tool[] {
  const wanted = new Set<Tool>();
  for (const task of tasks) if (queues.includes(task.queue)) for (const t of task.tools) wanted.add(t);
  return ALL_TOOLS.filter((t) => wanted.has(t));
}

/** The operator's message: each missing tool and why, then the commands that install them. */
export function missingToolsMessage(
  problems: readonly ToolProblem[],
  queues: readonly QueueName[],
  mediaFree: readonly QueueName[],
): string {
  const debian = [...new Set(problems.map((p) => INSTALL[p.tool].debian))];
  const formulas = [
    ...new Set(problems.filter((p) => !INSTALL[p.tool].brewCask).map((p) => INSTALL[p.tool].brew)),
  ];
  const casks = [
    ...new Set(problems.filter((p) => INSTALL[p.tool].brewCask).map((p) => INSTALL[p.tool].brew)),
  ];
  const brew = [
    formulas.length ? `brew install ${formulas.join(' ')}` : '',
    casks.length ? `brew install --cask ${casks.join(' ')}` : '',
  ].filter(Boolean);
  return [
    `The worker cannot start: the queues it consumes (${queues.join(', ')}) need tools that are missing or unusable:`,
    ...problems.map((p) => `  - ${p.tool}: ${p.problem}`),
    'Install them, then start the worker again:',
    `  Debian/Ubuntu:    apt-get install -y ${debian.join(' ')}`,
    `  macOS (Homebrew): ${brew.join(' && ')}`,
    ...(mediaFree.length
      ? [
          `A worker that consumes only queues without media (WORKER_QUEUES=${mediaFree.join(',')}) needs none of them.`,
        ]
      : []),
  ].join('\n');
}

/**
 * Checks, before the worker takes any job, the tools its queues' tasks declare, and throws a
 * {@link StartupError} naming each one that is missing: a worker without ffmpeg would otherwise take
 * renders and fail every one of them. espeak-ng is skipped when the hosted TTS provider speaks with no
 * espeak fallback (TTS_FALLBACK=none), since nothing then runs it.
 */
export async function assertToolsFor(
  config: Pick<Config, 'TTS_HTTP_URL' | 'TTS_FALLBACK'>,
  tasks: Iterable<ToolUser>,
  queues: readonly QueueName[],
  options?: CheckToolsOptions,
): Promise<void> {
  const all = [...tasks];
  const hostedOnly = config.TTS_HTTP_URL !== undefined && config.TTS_FALLBACK === 'none';
  const tools = toolsFor(all, queues).filter((t) => !(hostedOnly && t === 'espeak-ng'));
  const problems = await checkTools(tools, options);
  if (problems.length === 0) return;
  const mediaFree = ALL_QUEUES.filter((q) => toolsFor(all, [q]).length === 0);
  throw new StartupError(missingToolsMessage(problems, queues, mediaFree));
}
