import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { ProcessFailedError } from './process-failed-error.ts';
import { runProcess } from './run-process.ts';

/** Live (non-zombie) members of a process group, via ps. */
async function liveGroupMembers(pgid: number): Promise<string[]> {
  try {
    const { stdout } = await runProcess('ps', ['-o', 'pid=,stat=,args=', '-g', String(pgid)]);
    // A zombie is already dead and only waits for its parent to reap it.
    return stdout
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line && !/^\d+\s+Z/.test(line));
  } catch (error) {
    // ps exits 1 when no process matched.
    if (error instanceof ProcessFailedError && error.exitCode === 1) return [];
    throw error;
  }
}

async function waitFor(condition: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('runProcess', () => {
  it('when the command succeeds, then it resolves with stdout and stderr', async () => {
    const result = await runProcess('sh', ['-c', 'echo out; echo err >&2']);
    expect(result).toEqual({ stdout: 'out\n', stderr: 'err\n' });
  });

  it('when input is given, then the child reads it on stdin', async () => {
    const result = await runProcess('cat', [], { input: '-n is not an option here' });
    expect(result.stdout).toBe('-n is not an option here');
  });

  it('when the command exits non-zero, then it rejects with ProcessFailedError carrying the stderr tail', async () => {
    const error = await runProcess('sh', ['-c', 'echo first >&2; echo "it broke" >&2; exit 3']).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ProcessFailedError);
    const failed = error as ProcessFailedError;
    expect(failed.command).toBe('sh');
    expect(failed.exitCode).toBe(3);
    expect(failed.stderrTail).toBe('first\nit broke\n');
    expect(failed.message).toContain('it broke');
  });

  it('when stderr is larger than maxOutputBytes, then only its tail is kept', async () => {
    const result = await runProcess('sh', ['-c', 'printf "0123456789abcdef" >&2'], { maxOutputBytes: 6 });
    expect(result.stderr).toBe('abcdef');
  });

  it('when the command does not exist, then it rejects with the spawn error', async () => {
    await expect(runProcess('/nonexistent/binary', [])).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('when the signal aborts, then the whole process group is killed and it rejects with the reason within 1 s', async () => {
    const controller = new AbortController();
    let pgid = 0;
    const running = runProcess('sh', ['-c', 'sleep 30 & sleep 30; wait'], {
      signal: controller.signal,
      onSpawn: (pid) => {
        pgid = pid;
      },
    });
    const settled = running.catch((e: unknown) => e);
    const isSleep = (line: string): boolean => /^\d+\s+\S+\s+sleep 30$/.test(line);
    try {
      // sh plus both sleeps must be up, so the test proves the background one is killed too.
      await waitFor(async () => (await liveGroupMembers(pgid)).filter(isSleep).length === 2, 5000);
    } catch (error) {
      controller.abort();
      throw error;
    }

    const reason = new Error('job canceled');
    const started = Date.now();
    controller.abort(reason);
    expect(await settled).toBe(reason);
    expect(Date.now() - started).toBeLessThan(1000);
    // SIGKILL is delivered synchronously, but reaping the orphaned sleep may take a moment.
    await waitFor(async () => (await liveGroupMembers(pgid)).length === 0, 1000);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });

  it('when the signal is already aborted, then nothing is spawned and it rejects with the reason', async () => {
    const reason = new Error('too late');
    let spawned = false;
    await expect(
      runProcess('sleep', ['30'], {
        signal: AbortSignal.abort(reason),
        onSpawn: () => {
          spawned = true;
        },
      }),
    ).rejects.toBe(reason);
    expect(spawned).toBe(false);
  });

  it('when the abort reason is not an Error, then it rejects with an AbortError whose cause is the reason', async () => {
    const controller = new AbortController();
    const running = runProcess('sleep', ['30'], { signal: controller.signal });
    controller.abort('shutdown');
    await expect(running).rejects.toMatchObject({ name: 'AbortError', cause: 'shutdown' });
  });

  it('when the child leaves a background process holding its pipes, then it still resolves promptly', async () => {
    const started = Date.now();
    const result = await runProcess('sh', ['-c', 'sleep 30 & echo done']);
    expect(result.stdout).toBe('done\n');
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('when processes finish, then no abort listener is left on the shared signal', async () => {
    const controller = new AbortController();
    await Promise.all([
      runProcess('true', [], { signal: controller.signal }),
      runProcess('sh', ['-c', 'exit 1'], { signal: controller.signal }).catch(() => undefined),
    ]);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });
});

describe('runProcess when the parent dies', () => {
  it('when the worker process is SIGKILLed, then its child process group dies with it', async () => {
    const { spawn } = await import('node:child_process');
    const here = new URL('./run-process.ts', import.meta.url).pathname;
    // A stand-in worker: starts a long child through runProcess, prints its group id, waits.
    const script = `import { runProcess } from ${JSON.stringify(here)};
      runProcess('sleep', ['30'], { onSpawn: (pid) => console.log(pid) }).catch(() => {});`;
    const parent = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const pgid = await new Promise<number>((resolve, reject) => {
      parent.stdout!.once('data', (d: Buffer) => resolve(Number(String(d).trim())));
      parent.once('exit', () => reject(new Error('parent exited early')));
    });
    await waitFor(async () => (await liveGroupMembers(pgid)).some((l) => l.includes('sleep 30')), 5000);
    parent.kill('SIGKILL');
    // No exit hook runs on SIGKILL: the watchdog notices the closed pipe and kills the group.
    await waitFor(async () => (await liveGroupMembers(pgid)).length === 0, 2000);
  });
});
