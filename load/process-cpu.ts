import { readdirSync, readFileSync } from 'node:fs';

// /proc/<pid>/stat counts CPU in clock ticks; Linux's USER_HZ is 100 on every architecture we run on.
const MS_PER_TICK = 10;

function ticksOf(stat: string): number {
  // Fields after the command (which may contain spaces): utime and stime are the 12th and 13th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

/** `pid` and its descendants now living (an API primary and the processes it forked). */
function treeOf(pid: number): number[] {
  const pids = [pid];
  for (let i = 0; i < pids.length; i++) {
    try {
      for (const tid of readdirSync(`/proc/${pids[i]}/task`)) {
        const children = readFileSync(`/proc/${pids[i]}/task/${tid}/children`, 'utf8').trim();
        if (children) pids.push(...children.split(' ').map(Number));
      }
    } catch {
      // it ended while we looked
    }
  }
  return pids;
}

/** CPU time (user + system, ms) used so far by a process and its descendants now living. */
export function cpuMsOf(pid: number): number {
  let ticks = 0;
  for (const p of treeOf(pid)) {
    try {
      ticks += ticksOf(readFileSync(`/proc/${p}/stat`, 'utf8'));
    } catch {
      // it ended while we looked
    }
  }
  return ticks * MS_PER_TICK;
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

/** Read and write system calls made so far by a process and its descendants (from /proc/<pid>/io). */
export function syscallsOf(pid: number): { reads: number; writes: number } {
  const total = { reads: 0, writes: 0 };
  for (const p of treeOf(pid)) {
    try {
      const io = readFileSync(`/proc/${p}/io`, 'utf8');
      total.reads += Number(/^syscr:\s+(\d+)/m.exec(io)?.[1] ?? 0);
      total.writes += Number(/^syscw:\s+(\d+)/m.exec(io)?.[1] ?? 0);
    } catch {
      // it ended while we looked
    }
  }
  return total;
}
