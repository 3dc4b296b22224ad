import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');
const temps: string[] = [];
afterAll(() => {
  for (const d of temps) rmSync(d, { recursive: true, force: true });
});

/**
 * Re-locks a copy of package.json + package-lock.json without the network (`--offline`): when they
 * agree, npm writes the same lockfile byte for byte; a dependency added, removed or re-pinned in
 * package.json alone either needs the registry (ENOTCACHED) or changes the lockfile.
 */
function relock(mutate?: (pkg: Record<string, Record<string, string>>) => void): {
  ok: boolean;
  output: string;
} {
  const dir = mkdtempSync(path.join(tmpdir(), 'rm-lock-'));
  temps.push(dir);
  copyFileSync(path.join(ROOT, 'package-lock.json'), path.join(dir, 'package-lock.json'));
  const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  // Workspaces (web/, sdk/) are part of the lock: their package.json files come along.
  for (const ws of (pkg.workspaces ?? []) as string[]) {
    mkdirSync(path.join(dir, ws), { recursive: true });
    copyFileSync(path.join(ROOT, ws, 'package.json'), path.join(dir, ws, 'package.json'));
  }
  mutate?.(pkg);
  writeFileSync(path.join(dir, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
  const run = spawnSync(
    'npm',
    [
      'install',
      '--package-lock-only',
      '--offline',
      '--ignore-scripts',
      '--no-audit',
      '--no-fund',
      '--no-update-notifier',
    ],
    { cwd: dir, encoding: 'utf8', timeout: 60_000 },
  );
  const same =
    run.status === 0 &&
    readFileSync(path.join(dir, 'package-lock.json'), 'utf8') ===
      readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8');
  return { ok: same, output: `${run.stdout}${run.stderr}` };
}

describe('package.json and package-lock.json', () => {
  it('when npm re-locks the committed pair offline, then the lockfile comes out unchanged', () => {
    const r = relock();
    expect(r.ok, `package.json and package-lock.json drifted: run npm install\n${r.output}`).toBe(true);
  });

  it('when package.json drops a dependency the lockfile still lists, then the check fails', () => {
    expect(relock((p) => delete p.dependencies!.archiver).ok).toBe(false);
  });

  it('when package.json re-pins a dependency the lockfile does not hold, then the check fails', () => {
    expect(relock((p) => (p.devDependencies!.typescript = '5.9.2')).ok).toBe(false);
  });
});

describe('a self-contained repository', () => {
  it('when any tracked file is read, then none cites a document or fixture outside the repository', () => {
    // Spelled in pieces so this file does not match itself.
    const outside = ['API' + '.md', '../shared/' + 'fixtures', 'shared/' + 'design'];
    const files = execFileSync('git', ['ls-files', '-z'], { cwd: ROOT, encoding: 'utf8' })
      .split('\0')
      .filter((f) => f && f !== 'package-lock.json' && !f.startsWith('load/fixtures/'));
    const hits: string[] = [];
    for (const f of files) {
      let text: string;
      try {
        text = readFileSync(path.join(ROOT, f), 'utf8');
      } catch {
        continue; // deleted in the work tree
      }
      for (const needle of outside) if (text.includes(needle)) hits.push(`${f}: ${needle}`);
    }
    expect(hits).toEqual([]);
  });
});
