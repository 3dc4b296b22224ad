import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { copyFile, mkdir, readdir, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { type Storage, StorageNotFoundError } from './storage.ts';

/** Storage in a local directory (STORAGE_DIR). Writes go to a temp name and are renamed into place. */
export function createLocalStorage(root: string): Storage {
  const base = path.resolve(root);
  const resolve = (key: string) => {
    const p = path.resolve(base, key);
    if (p !== base && !p.startsWith(base + path.sep)) throw new Error(`storage key escapes the root: ${key}`);
    return p;
  };
  const placeAtomically = async (key: string, write: (tmp: string) => Promise<void>) => {
    const dest = resolve(key);
    await mkdir(path.dirname(dest), { recursive: true });
    const tmp = `${dest}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      await write(tmp);
      await rename(tmp, dest);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
    return { bytes: (await stat(dest)).size };
  };
  const walk = async (dir: string): Promise<string[]> => {
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    const out: string[] = [];
    for (const e of entries) {
      const full = path.join(dir, e.name);
      if (e.isDirectory()) out.push(...(await walk(full)));
      else if (!e.name.endsWith('.tmp')) out.push(full);
    }
    return out;
  };

  return {
    putFile: (key, localPath) => placeAtomically(key, (tmp) => copyFile(localPath, tmp)),
    putBuffer: (key, data) => placeAtomically(key, (tmp) => writeFile(tmp, data)),
    async stat(key) {
      try {
        return { bytes: (await stat(resolve(key))).size };
      } catch {
        return null;
      }
    },
    async read(key): Promise<Readable> {
      const p = resolve(key);
      try {
        await stat(p);
      } catch {
        throw new StorageNotFoundError(key);
      }
      return createReadStream(p);
    },
    async download(key, localPath) {
      try {
        await copyFile(resolve(key), localPath);
      } catch {
        throw new StorageNotFoundError(key);
      }
    },
    async delete(key) {
      await unlink(resolve(key)).catch(() => undefined);
    },
    async deletePrefix(prefix) {
      const dir = resolve(prefix);
      const files = await walk(dir);
      await rm(dir, { recursive: true, force: true });
      return files.length;
    },
    async list(prefix) {
      const files = await walk(resolve(prefix));
      return Promise.all(
        files.map(async (f) => ({
          key: path.relative(base, f).split(path.sep).join('/'),
          bytes: (await stat(f)).size,
        })),
      );
    },
    localPath: (key) => resolve(key),
    presignedUrl: async () => null,
  };
}
