// Node host adapter: the Hub file cache as a directory (default ~/.cache/webtune/hub).
// A file being downloaded is kept as <path>.partial and renamed when complete.

import { appendFile, mkdir, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join, normalize } from 'node:path';
import type { FileCache } from './hub.ts';
import { nodeFileSource } from './node-file.ts';

export function defaultCacheDir(): string {
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'webtune', 'hub');
}

async function size(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).size;
  } catch {
    return undefined;
  }
}

export function nodeDirCache(dir = defaultCacheDir()): FileCache {
  const path = (key: string) => {
    const p = normalize(join(dir, key));
    if (!p.startsWith(normalize(dir))) throw new Error(`cache key escapes the cache directory: ${key}`);
    return p;
  };
  return {
    async stored(key) {
      return (await size(path(key))) ?? (await size(path(key) + '.partial')) ?? 0;
    },
    async isComplete(key) {
      return (await size(path(key))) !== undefined;
    },
    async append(key, chunk, restart) {
      const p = path(key) + '.partial';
      await mkdir(dirname(p), { recursive: true });
      if (restart) await writeFile(p, chunk);
      else await appendFile(p, chunk);
    },
    async markComplete(key) {
      await rename(path(key) + '.partial', path(key));
    },
    async open(key) {
      return nodeFileSource(path(key));
    },
    async remove(key) {
      await rm(path(key), { force: true });
      await rm(path(key) + '.partial', { force: true });
    },
    async usage() {
      let total = 0;
      const walk = async (d: string): Promise<void> => {
        let entries;
        try {
          entries = await readdir(d, { withFileTypes: true });
        } catch {
          return;
        }
        for (const e of entries) {
          const p = join(d, e.name);
          if (e.isDirectory()) await walk(p);
          else total += (await size(p)) ?? 0;
        }
      };
      await walk(dir);
      return total;
    },
    async clear() {
      await rm(dir, { recursive: true, force: true });
    },
  };
}
