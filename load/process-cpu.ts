import { readdirSync, readFileSync } from 'node:fs';

// /proc/<pid>/stat counts CPU in clock ticks; Linux's USER_HZ is 100 on every architecture we run on.
const MS_PER_TICK = 10;

function ticksOf(stat: string): number {
  // Fields after the command (which may contain spaces): utime and stime are the 12th and 13th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

/** CPU time (user + system, ms) used so far by one process. */
export function cpuMsOf(pid: number): number {
  try {
    return ticksOf(readFileSync(`/proc/${pid}/stat`, 'utf8')) * MS_PER_TICK;
  } catch {
    return 0;
  }
}

/**
 * CPU time (ms) used so far by every live process whose command name starts with `name` (all
 * Postgres backends, say), and whose command line contains `tagged` when given (a Postgres
 * backend's title names its database). A process that ended between two readings drops out of
 * the second, so compare readings taken over a stretch in which the processes stay up (pooled
 * connections).
 */
export function cpuMs(name: string, tagged?: string): number {
  let ticks = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      if (!comm.startsWith(name)) continue;
      if (tagged && !readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(tagged)) continue;
      ticks += ticksOf(stat);
    } catch {
      // the process ended while we listed /proc
    }
  }
  return ticks * MS_PER_TICK;
}

/** Read and write system calls made so far by one process (from /proc/<pid>/io; 0 if unreadable). */
export function syscallsOf(pid: number): { reads: number; writes: number } {
  try {
    const io = readFileSync(`/proc/${pid}/io`, 'utf8');
    return {
      reads: Number(/^syscr:\s+(\d+)/m.exec(io)?.[1] ?? 0),
      writes: Number(/^syscw:\s+(\d+)/m.exec(io)?.[1] ?? 0),
    };
  } catch {
    return { reads: 0, writes: 0 };
  }
}
