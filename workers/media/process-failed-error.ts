import { TaskError } from '../../shared/errors/task-error.ts';

/** How much of stderr an error keeps: enough for ffmpeg's last complaint, small enough to log or store. */
const ERROR_TAIL_BYTES = 8 * 1024;

/**
 * A child process ran but did not succeed: non-zero exit, or killed by a signal we did not send.
 * `stderrTail` holds at most the last 8 KiB of stderr, because this error ends up in logs and job rows.
 */
export class ProcessFailedError extends TaskError {
  readonly command: string;
  readonly exitCode: number | null;
  readonly exitSignal: NodeJS.Signals | null;
  readonly stderrTail: string;

  constructor(command: string, exitCode: number | null, exitSignal: NodeJS.Signals | null, stderr: string) {
    const tail = stderr.length > ERROR_TAIL_BYTES ? stderr.slice(-ERROR_TAIL_BYTES) : stderr;
    const how =
      exitCode !== null ? `exited with code ${exitCode}` : `was killed by ${exitSignal ?? 'a signal'}`;
    const lastLine = tail.trimEnd().split('\n').at(-1) ?? '';
    super(`${command} ${how}${lastLine ? `: ${lastLine}` : ''}`, 'step_failed', true);
    this.command = command;
    this.exitCode = exitCode;
    this.exitSignal = exitSignal;
    this.stderrTail = tail;
  }
}
