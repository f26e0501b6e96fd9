// A model folder served over HTTP (the built-in models in public/models/<name>/): each file
// is fetched whole on first use and kept in memory. For small models; large ones come from
// the Hub source with its cache.

import { bytesSource } from './bytes.ts';
import type { ModelFiles } from './model-files.ts';

export function urlModelFiles(base: string, name = base, fetchFn: typeof fetch = fetch): ModelFiles {
  const root = base.endsWith('/') ? base : `${base}/`;
  const got = new Map<string, Promise<Uint8Array | undefined>>();
  const get = (file: string) => {
    let p = got.get(file);
    if (!p) {
      p = fetchFn(root + file).then(async (r) => (r.ok ? new Uint8Array(await r.arrayBuffer()) : undefined));
      got.set(file, p);
    }
    return p;
  };
  return {
    name,
    has: async (file) => (await get(file)) !== undefined,
    open: async (file) => {
      const bytes = await get(file);
      if (!bytes) throw new Error(`${name}: no ${file} at ${root}${file}`);
      return bytesSource(bytes, file);
    },
  };
}
