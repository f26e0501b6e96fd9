// A model folder served over HTTP (the built-in models in public/models/<name>/): each file
// is fetched whole on first use and kept in memory. For small models; large ones come from
// the Hub source with its cache.
//
// A file is present only when the server sends that file: static servers and dev servers of
// single-page apps answer a missing path with 200 and the app's index.html, so an answer is
// taken for the file only if it is not an HTML page (by its content type and by its first
// bytes) unless the file itself is .html. Anything else (404, a page of HTML) is absent.

import { bytesSource } from './bytes.ts';
import type { ModelFiles } from './model-files.ts';

/** The answer is an HTML page, not the file asked for (a SPA fallback, an error page). */
export function isHtmlStandIn(file: string, contentType: string | null, bytes: Uint8Array): boolean {
  if (/\.html?$/i.test(file)) return false;
  if (contentType && /^\s*text\/html\b/i.test(contentType)) return true;
  const head = new TextDecoder().decode(bytes.subarray(0, 256)).replace(/^\uFEFF/, '').trimStart().toLowerCase();
  return head.startsWith('<!doctype html') || head.startsWith('<html');
}

export function urlModelFiles(base: string, name = base, fetchFn: typeof fetch = fetch): ModelFiles {
  const root = base.endsWith('/') ? base : `${base}/`;
  const got = new Map<string, Promise<Uint8Array | undefined>>();
  const get = (file: string) => {
    let p = got.get(file);
    if (!p) {
      p = fetchFn(root + file).then(async (r) => {
        if (!r.ok) return undefined;
        const bytes = new Uint8Array(await r.arrayBuffer());
        return isHtmlStandIn(file, r.headers.get('content-type'), bytes) ? undefined : bytes;
      });
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
