import { readdirSync, readFileSync } from 'node:fs';

/** RSS in KiB of `pid` itself and of `pid` plus every descendant, read from /proc (Linux). */
export function processTreeRss(pid: number): { self: number; total: number } {
  const parent = new Map<number, number>();
  const rss = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const status = readFileSync(`/proc/${entry}/status`, 'utf8');
      const ppid = Number(/^PPid:\s+(\d+)/m.exec(status)?.[1] ?? 0);
      const kb = Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? 0);
      parent.set(Number(entry), ppid);
      rss.set(Number(entry), kb);
    } catch {
      // the process ended while we listed /proc
    }
  }
  const inTree = (p: number): boolean => {
    for (let cur = p, hops = 0; cur > 1 && hops < 64; hops++) {
      if (cur === pid) return true;
      cur = parent.get(cur) ?? 0;
    }
    return false;
  };
  let total = 0;
  for (const [p, kb] of rss) if (inTree(p)) total += kb;
  return { self: rss.get(pid) ?? 0, total };
}
