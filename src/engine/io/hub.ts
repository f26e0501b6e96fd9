// Hugging Face Hub files by repo id and revision: https://huggingface.co/<id>/resolve/<rev>/<file>,
// with an optional access token, progress per file, resumable downloads (HTTP Range from
// the bytes already cached) and a persistent cache the host provides (OPFS in the browser,
// a directory in Node). The engine reads cached files through ByteSource, a tensor at a time.

import type { ByteSource } from './bytes.ts';
import type { ModelFiles } from './model-files.ts';

export interface FileCache {
  /** Bytes already stored for `key` (complete or partial), 0 if none. */
  stored(key: string): Promise<number>;
  isComplete(key: string): Promise<boolean>;
  /** Append to the partial file (truncating it first when `restart`). */
  append(key: string, chunk: Uint8Array, restart: boolean): Promise<void>;
  markComplete(key: string): Promise<void>;
  open(key: string): Promise<ByteSource>;
  remove(key: string): Promise<void>;
  /** Total bytes cached. */
  usage(): Promise<number>;
  clear(): Promise<void>;
}

export interface HubProgress {
  file: string;
  loaded: number;
  /** Undefined when the server did not say. */
  total?: number;
  fromCache: boolean;
}

export interface HubOptions {
  revision?: string;
  token?: string;
  endpoint?: string;
  cache: FileCache;
  onProgress?: (p: HubProgress) => void;
  signal?: AbortSignal;
  fetch?: typeof fetch;
}

export class HubError extends Error {
  override name = 'HubError';
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

const REPO_ID = /^[A-Za-z0-9][A-Za-z0-9._-]*(\/[A-Za-z0-9][A-Za-z0-9._-]*)?$/;

export function hubUrl(repo: string, file: string, revision = 'main', endpoint = 'https://huggingface.co'): string {
  if (!REPO_ID.test(repo)) throw new HubError(`"${repo}" is not a Hub repo id (expected "owner/name")`);
  const path = file.split('/').map(encodeURIComponent).join('/');
  return `${endpoint.replace(/\/$/, '')}/${repo}/resolve/${encodeURIComponent(revision)}/${path}`;
}

/** Whether `file` exists in the repo (HEAD request; false on 404). */
export async function hubHas(repo: string, file: string, opts: Omit<HubOptions, 'cache'>): Promise<boolean> {
  const f = opts.fetch ?? fetch;
  const res = await f(hubUrl(repo, file, opts.revision, opts.endpoint), { method: 'HEAD', headers: authHeaders(opts.token), signal: opts.signal });
  if (res.status === 404) return false;
  if (!res.ok) throw statusError(res.status, repo, file, opts.revision ?? 'main');
  return true;
}

/** Download `file` into the cache (resuming a partial download) and open it. */
export async function hubFile(repo: string, file: string, opts: HubOptions): Promise<ByteSource> {
  const rev = opts.revision ?? 'main';
  const key = `${repo}/${rev}/${file}`;
  const cache = opts.cache;
  if (await cache.isComplete(key)) {
    const src = await cache.open(key);
    opts.onProgress?.({ file, loaded: src.size, total: src.size, fromCache: true });
    return src;
  }
  const f = opts.fetch ?? fetch;
  const have = await cache.stored(key);
  const headers = authHeaders(opts.token);
  if (have > 0) headers.Range = `bytes=${have}-`;
  let res: Response;
  try {
    res = await f(hubUrl(repo, file, rev, opts.endpoint), { headers, signal: opts.signal });
  } catch (e) {
    if (opts.signal?.aborted) throw e;
    throw new HubError(`Could not reach the Hub for ${repo}/${file}: ${e instanceof Error ? e.message : String(e)}. Check the connection and try again; what was downloaded is kept.`);
  }
  if (res.status === 416 && have > 0) {
    // Range not satisfiable: the partial file is already whole (or stale). Start over.
    await cache.remove(key);
    return hubFile(repo, file, opts);
  }
  if (!res.ok) throw statusError(res.status, repo, file, rev);
  const resumed = res.status === 206;
  let loaded = resumed ? have : 0;
  const total = totalSize(res, loaded);
  if (!res.body) throw new HubError(`${repo}/${file}: the Hub sent no body`);
  const reader = res.body.getReader();
  let first = true;
  opts.onProgress?.({ file, loaded, total, fromCache: false });
  for (;;) {
    let chunk: ReadableStreamReadResult<Uint8Array>;
    try {
      chunk = await reader.read();
    } catch (e) {
      if (opts.signal?.aborted) throw e;
      throw new HubError(
        `Download of ${repo}/${file} broke off at ${loaded}${total ? ` of ${total}` : ''} bytes ` +
          `(${e instanceof Error ? e.message : String(e)}); run it again to resume from there.`,
      );
    }
    if (chunk.done) break;
    await cache.append(key, chunk.value, first && !resumed);
    first = false;
    loaded += chunk.value.byteLength;
    opts.onProgress?.({ file, loaded, total, fromCache: false });
  }
  if (first && !resumed) await cache.append(key, new Uint8Array(0), true);
  if (total !== undefined && loaded !== total) {
    throw new HubError(`Download of ${repo}/${file} ended at ${loaded} of ${total} bytes; run it again to resume.`);
  }
  await cache.markComplete(key);
  return cache.open(key);
}

function authHeaders(token?: string): Record<string, string> {
  return token ? { Authorization: `Bearer ${token}` } : {};
}

function totalSize(res: Response, offset: number): number | undefined {
  const range = res.headers.get('content-range');
  const m = range?.match(/\/(\d+)\s*$/);
  if (m) return Number(m[1]);
  const len = res.headers.get('content-length');
  return len === null ? undefined : offset + Number(len);
}

function statusError(status: number, repo: string, file: string, rev: string): HubError {
  if (status === 401 || status === 403) {
    return new HubError(
      `The Hub refused ${repo}/${file} (HTTP ${status}): the repo is private or gated. Accept its licence on huggingface.co and give an access token with read rights.`,
      status,
    );
  }
  if (status === 404) return new HubError(`The Hub has no file ${file} in ${repo} at revision "${rev}" (HTTP 404): check the repo id, revision and file name.`, status);
  return new HubError(`The Hub answered HTTP ${status} for ${repo}/${file} at "${rev}"`, status);
}

/** A Hub repo at a revision as ModelFiles: files are downloaded into `cache` on first open. */
export function hubModelFiles(repo: string, opts: HubOptions): ModelFiles {
  const rev = opts.revision ?? 'main';
  return {
    name: `hf:${repo}@${rev}`,
    has: async (file) => (await opts.cache.isComplete(`${repo}/${rev}/${file}`)) || hubHas(repo, file, opts),
    open: (file) => hubFile(repo, file, opts),
  };
}
