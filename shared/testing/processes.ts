import { execFileSync } from 'node:child_process';

/** Command lines of running processes named `name` whose arguments mention `marker` (e.g. a job id). */
export function processesFor(name: string, marker: string): string[] {
  try {
    return execFileSync('pgrep', ['-af', name], { encoding: 'utf8' })
      .split('\n')
      .filter((line) => line.includes(marker));
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
}
