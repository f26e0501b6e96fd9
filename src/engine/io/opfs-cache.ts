// Browser host adapter: the Hub file cache on the Origin Private File System, in one
// directory (default "webtune-hub") so clear() leaves the rest of the origin's OPFS alone.
//
// Layout, flat: a key (`<owner>/<name>/<revision>/<file>`, any of which may hold '/') is
// stored under encodeURIComponent(key) with '.' also escaped, so names never contain '/'
// or '.', can never be "." or "..", and the suffix below cannot collide with a key.
//   <name>        the bytes downloaded so far (partial or whole)
//   <name>.done   an empty marker, written once the bytes are whole
// A download that broke off leaves <name> without a marker; the next one resumes from its
// size with an HTTP Range request (io/hub.ts).
//
// Writes use a FileSystemSyncAccessHandle where there is one (dedicated workers, where the
// engine runs: one handle is kept open per file being downloaded), and createWritable
// elsewhere (the page).

import { blobSource } from './bytes.ts';
import type { FileCache } from './hub.ts';

const DONE = '.done';

// Directory iteration lives in TypeScript's DOM.AsyncIterable lib, which tsconfig leaves out.
declare global {
  interface FileSystemDirectoryHandle {
    values(): AsyncIterableIterator<FileSystemHandle>;
  }
}

function safeName(key: string): string {
  if (!key) throw new Error('empty cache key');
  return encodeURIComponent(key).replace(/\./g, '%2E');
}

function isNotFound(e: unknown): boolean {
  return e instanceof DOMException && (e.name === 'NotFoundError' || e.name === 'TypeMismatchError');
}

export interface OpfsCache extends FileCache {
  /** Release open write handles (a broken-off download's); the next append reopens them. */
  close(): Promise<void>;
}

export function opfsCache(dirName = 'webtune-hub'): OpfsCache {
  let dirPromise: Promise<FileSystemDirectoryHandle> | undefined;
  const dir = () => {
    if (!dirPromise) {
      if (typeof navigator === 'undefined' || !navigator.storage?.getDirectory) {
        return Promise.reject(new Error('This browser has no Origin Private File System (navigator.storage.getDirectory) to cache Hub files in.'));
      }
      dirPromise = navigator.storage.getDirectory().then((root) => root.getDirectoryHandle(dirName, { create: true }));
      dirPromise.catch(() => (dirPromise = undefined));
    }
    return dirPromise;
  };
  /** Open sync access handles by file name (at most the files being downloaded). */
  const handles = new Map<string, FileSystemSyncAccessHandle>();

  const fileHandle = async (name: string, create = false): Promise<FileSystemFileHandle | undefined> => {
    try {
      return await (await dir()).getFileHandle(name, { create });
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  };
  const release = (name: string) => {
    const h = handles.get(name);
    if (h) {
      handles.delete(name);
      h.close();
    }
  };
  const sizeOf = async (name: string): Promise<number | undefined> => {
    const open = handles.get(name);
    if (open) return open.getSize();
    const h = await fileHandle(name);
    return h ? (await h.getFile()).size : undefined;
  };
  const removeFile = async (name: string) => {
    release(name);
    try {
      await (await dir()).removeEntry(name);
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  };

  return {
    async stored(key) {
      return (await sizeOf(safeName(key))) ?? 0;
    },

    async isComplete(key) {
      return (await fileHandle(safeName(key) + DONE)) !== undefined && (await fileHandle(safeName(key))) !== undefined;
    },

    async append(key, chunk, restart) {
      const name = safeName(key);
      if (restart) await removeFile(name + DONE);
      const h = await fileHandle(name, true);
      if (!h) throw new Error(`OPFS: could not create ${key}`);
      if (typeof h.createSyncAccessHandle === 'function') {
        let sync = handles.get(name);
        if (!sync) {
          sync = await h.createSyncAccessHandle();
          handles.set(name, sync);
        }
        if (restart) sync.truncate(0);
        const at = sync.getSize();
        let written = 0;
        while (written < chunk.byteLength) written += sync.write(chunk.subarray(written), { at: at + written });
        return;
      }
      const w = await h.createWritable({ keepExistingData: !restart });
      try {
        if (!restart) await w.seek((await h.getFile()).size);
        await w.write(new Uint8Array(chunk)); // a copy on an ArrayBuffer, as the type asks
      } finally {
        await w.close();
      }
    },

    async markComplete(key) {
      const name = safeName(key);
      const sync = handles.get(name);
      if (sync) {
        sync.flush();
        release(name);
      }
      if (!(await fileHandle(name))) throw new Error(`OPFS: nothing stored for ${key}`);
      await fileHandle(name + DONE, true);
    },

    async open(key) {
      const name = safeName(key);
      release(name);
      const h = await fileHandle(name);
      if (!h) throw new Error(`OPFS: nothing cached for ${key}`);
      return blobSource(await h.getFile(), key.split('/').pop() || key);
    },

    async remove(key) {
      const name = safeName(key);
      await removeFile(name + DONE);
      await removeFile(name);
    },

    async usage() {
      let total = 0;
      for await (const entry of (await dir()).values()) {
        if (!(entry instanceof FileSystemFileHandle) || entry.name.endsWith(DONE)) continue;
        const open = handles.get(entry.name);
        total += open ? open.getSize() : (await entry.getFile()).size;
      }
      return total;
    },

    async clear() {
      for (const name of [...handles.keys()]) release(name);
      try {
        await (await navigator.storage.getDirectory()).removeEntry(dirName, { recursive: true });
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
      dirPromise = undefined;
    },

    async close() {
      for (const name of [...handles.keys()]) release(name);
    },
  };
}
