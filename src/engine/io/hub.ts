// Hugging Face Hub files by repo id and revision: https://huggingface.co/<id>/resolve/<rev>/<file>
// (datasets: https://huggingface.co/datasets/<id>/resolve/<rev>/<file>),
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

/** Model repos live at <endpoint>/<id>, dataset repos at <endpoint>/datasets/<id>. */
export type RepoType = 'model' | 'dataset';

export interface HubOptions {
  revision?: string;
  /** 'model' when absent. */
  repoType?: RepoType;
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

export const DEFAULT_ENDPOINT = 'https://huggingface.co';

const LOCAL_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * The endpoint as a URL, checked: http(s), no user name or password in it, and https unless
 * it is this machine (localhost). The access token goes to this origin only.
 */
export function hubEndpoint(endpoint = DEFAULT_ENDPOINT): URL {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new HubError(`The Hub endpoint "${endpoint}" is not a URL (expected e.g. ${DEFAULT_ENDPOINT})`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new HubError(`The Hub endpoint "${endpoint}" is not an http(s) URL`);
  if (url.username || url.password) throw new HubError(`The Hub endpoint "${endpoint}" holds a user name or password; give the token in its own field`);
  if (url.search || url.hash) throw new HubError(`The Hub endpoint "${endpoint}" has a query or fragment; give the bare address (e.g. ${DEFAULT_ENDPOINT})`);
  return url;
}

/** The token travels only over https, or over http to this machine. */
const secure = (u: URL) => u.protocol === 'https:' || LOCAL_HOSTS.has(u.hostname);

/**
 * Headers for a request to `url`: the Authorization header only when `url` is on the
 * endpoint's origin and the transport is https (or localhost). A token that would have to
 * cross plain http to another machine is refused rather than sent or silently dropped.
 */
export function hubHeaders(url: string, opts: { token?: string; endpoint?: string }): Record<string, string> {
  if (!opts.token) return {};
  const ep = hubEndpoint(opts.endpoint);
  const u = new URL(url);
  if (u.origin !== ep.origin) return {};
  if (!secure(u)) throw new HubError(`The access token is sent only over https (or to localhost); the endpoint ${ep.origin} is plain http. Use an https endpoint, or leave the token empty.`);
  return { Authorization: `Bearer ${opts.token}` };
}

/**
 * fetch for Hub URLs: the token only on the endpoint's origin, and never on a redirect that
 * leaves it (the Hub sends large files to a CDN). Where the host shows redirects (Node), they
 * are followed here, each hop with its own headers; in a browser a manual redirect is
 * opaque, so the request is sent again with redirect: 'follow', under which the Fetch
 * standard drops Authorization when a redirect crosses origins.
 */
export async function hubFetch(url: string, init: { method?: string; headers?: Record<string, string>; signal?: AbortSignal }, opts: { token?: string; endpoint?: string; fetch?: typeof fetch }): Promise<Response> {
  const f = opts.fetch ?? fetch;
  let at = url;
  for (let hop = 0; hop < 10; hop++) {
    const auth = hubHeaders(at, opts);
    const headers = { ...init.headers, ...auth };
    if (!auth.Authorization) return f(at, { ...init, headers, redirect: 'follow' });
    const res = await f(at, { ...init, headers, redirect: 'manual' });
    if (res.type === 'opaqueredirect') return f(at, { ...init, headers, redirect: 'follow' });
    const location = res.status >= 300 && res.status < 400 ? res.headers.get('location') : null;
    if (!location) return res;
    await res.body?.cancel();
    at = new URL(location, at).href;
  }
  throw new HubError(`The Hub redirected ${url} more than 10 times`);
}

/** A repo file path or revision as the Hub names it: relative, no "." or ".." segments, no
 *  backslashes or control characters (it becomes part of a URL path on the Hub's host). */
export function checkRepoPath(path: string, what = 'file name'): string {
  const bad =
    path.length === 0 ? 'it is empty'
    : path.length > 1000 ? 'it is longer than 1000 characters'
    : path.startsWith('/') ? 'it is an absolute path'
    : path.includes('\\') ? 'it has a backslash'
    : /[\u0000-\u001f\u007f]/.test(path) ? 'it has a control character'
    : path.split('/').some((seg) => seg === '' || seg === '.' || seg === '..') ? 'it has an empty, "." or ".." segment'
    : undefined;
  if (bad) throw new HubError(`The ${what} ${JSON.stringify(path.slice(0, 200))} is refused: ${bad}. Hub paths are relative, like "model-00001-of-00002.safetensors".`);
  return path;
}

export function hubUrl(repo: string, file: string, revision = 'main', endpoint = DEFAULT_ENDPOINT, repoType: RepoType = 'model'): string {
  if (!REPO_ID.test(repo)) throw new HubError(`"${repo}" is not a Hub repo id (expected "owner/name")`);
  checkRepoPath(file);
  checkRepoPath(revision, 'revision');
  const path = file.split('/').map(encodeURIComponent).join('/');
  return `${hubEndpoint(endpoint).href.replace(/\/$/, '')}/${repoType === 'dataset' ? 'datasets/' : ''}${repo}/resolve/${encodeURIComponent(revision)}/${path}`;
}

/** The cache key of a repo file: models keep the plain `<repo>/<rev>/<file>`, datasets get a prefix. */
function cacheKey(repo: string, rev: string, file: string, repoType: RepoType = 'model'): string {
  if (!REPO_ID.test(repo)) throw new HubError(`"${repo}" is not a Hub repo id (expected "owner/name")`);
  checkRepoPath(file);
  checkRepoPath(rev, 'revision');
  return `${repoType === 'dataset' ? 'datasets/' : ''}${repo}/${rev}/${file}`;
}

/** Whether `file` exists in the repo (HEAD request; false on 404). */
export async function hubHas(repo: string, file: string, opts: Omit<HubOptions, 'cache'>): Promise<boolean> {
  const res = await hubFetch(hubUrl(repo, file, opts.revision, opts.endpoint, opts.repoType), { method: 'HEAD', signal: opts.signal }, opts);
  if (res.status === 404) return false;
  if (!res.ok) throw statusError(res.status, repo, file, opts.revision ?? 'main');
  return true;
}

/** Download `file` into the cache (resuming a partial download) and open it. */
export async function hubFile(repo: string, file: string, opts: HubOptions): Promise<ByteSource> {
  const rev = opts.revision ?? 'main';
  const key = cacheKey(repo, rev, file, opts.repoType);
  const cache = opts.cache;
  if (await cache.isComplete(key)) {
    const src = await cache.open(key);
    opts.onProgress?.({ file, loaded: src.size, total: src.size, fromCache: true });
    return src;
  }
  const have = await cache.stored(key);
  const headers: Record<string, string> = {};
  if (have > 0) headers.Range = `bytes=${have}-`;
  let res: Response;
  const url = hubUrl(repo, file, rev, opts.endpoint, opts.repoType);
  try {
    res = await hubFetch(url, { headers, signal: opts.signal }, opts);
  } catch (e) {
    if (opts.signal?.aborted || e instanceof HubError) throw e;
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
    has: async (file) => (await opts.cache.isComplete(cacheKey(repo, rev, file, opts.repoType))) || hubHas(repo, file, opts),
    open: (file) => hubFile(repo, file, opts),
  };
}

// ---------------------------------------------------------------------------------------
// Dataset repos: their Parquet files

/** The revision the Hub's dataset viewer writes its Parquet conversion of every dataset to. */
export const PARQUET_CONVERSION_REVISION = 'refs/convert/parquet';

export interface HubDatasetFiles {
  /** The revision the files are at (the one asked for, or the Parquet conversion branch). */
  revision: string;
  /** Paths in the repo, sorted; size in bytes when the Hub said. */
  files: { path: string; size?: number }[];
}

interface TreeEntry {
  type: string;
  path: string;
  size?: number;
}

/**
 * Every entry under `path` at `revision` of a dataset repo, through the Hub API's tree listing
 * (GET <endpoint>/api/datasets/<repo>/tree/<rev>[/<path>]?recursive=true, a JSON array of
 * { type, path, size }, paginated with a Link rel="next" header). Undefined on 404.
 */
async function listTree(repo: string, revision: string, path: string, opts: Omit<HubOptions, 'cache'>): Promise<TreeEntry[] | undefined> {
  const ep = hubEndpoint(opts.endpoint);
  const base = ep.href.replace(/\/$/, '');
  if (path) checkRepoPath(path, 'folder');
  checkRepoPath(revision, 'revision');
  const sub = path ? '/' + path.split('/').map(encodeURIComponent).join('/') : '';
  let url: string | undefined = `${base}/api/datasets/${repo}/tree/${encodeURIComponent(revision)}${sub}?recursive=true`;
  const out: TreeEntry[] = [];
  for (let page = 0; url && page < 100; page++) {
    let res: Response;
    try {
      res = await hubFetch(url, { signal: opts.signal }, opts);
    } catch (e) {
      if (opts.signal?.aborted || e instanceof HubError) throw e;
      throw new HubError(`Could not reach the Hub to list the files of dataset ${repo}: ${e instanceof Error ? e.message : String(e)}. Check the connection and the endpoint.`);
    }
    if (res.status === 404) return undefined;
    if (res.status === 401 || res.status === 403) {
      throw new HubError(
        `The Hub refused to list dataset ${repo} (HTTP ${res.status}): it is private or gated. Accept its terms on huggingface.co and give an access token with read rights.`,
        res.status,
      );
    }
    if (!res.ok) throw new HubError(`The Hub answered HTTP ${res.status} listing the files of dataset ${repo} at "${revision}"`, res.status);
    let body: unknown;
    try {
      body = await res.json();
    } catch {
      throw new HubError(`The Hub's file list for dataset ${repo} is not JSON`);
    }
    if (!Array.isArray(body)) throw new HubError(`The Hub's file list for dataset ${repo} is not a JSON array`);
    for (const e of body) if (e && typeof e === 'object' && typeof e.path === 'string') out.push({ type: String(e.type), path: e.path, size: typeof e.size === 'number' ? e.size : undefined });
    const next = /<([^>]+)>\s*;\s*rel="?next"?/.exec(res.headers.get('link') ?? '')?.[1];
    url = next ? new URL(next, url).href : undefined;
    // The next page must be on the endpoint: a listing that points elsewhere is not followed.
    if (url && new URL(url).origin !== ep.origin) {
      throw new HubError(`The file list of dataset ${repo} continues at another host (${new URL(url).origin}); webtune talks only to the Hub endpoint ${ep.origin}, so the listing stops here.`);
    }
  }
  return out;
}

/** Whether a Parquet path belongs to `split`: a folder named so, or a file name starting "<split>-", "<split>_" or "<split>.". */
function inSplit(path: string, split: string): boolean {
  const parts = path.split('/');
  const name = parts[parts.length - 1];
  return parts.slice(0, -1).includes(split) || [`${split}-`, `${split}_`, `${split}.`].some((p) => name.startsWith(p));
}

/**
 * The Parquet files of one split of a dataset repo. First the repo's own files at `revision`
 * (default "main"): *.parquet, narrowed to the config's folder when a config other than
 * "default" is named, and to the split (default: "train" when some file is in it, else all).
 * When there are none, the dataset viewer's conversion at refs/convert/parquet, whose layout
 * is <config>/<split>/NNNN.parquet. A repo that does not exist throws a HubError naming it.
 */
export async function hubDatasetParquetFiles(
  repo: string,
  opts: Omit<HubOptions, 'cache' | 'repoType'> & { config?: string; split?: string },
): Promise<HubDatasetFiles> {
  if (!REPO_ID.test(repo)) throw new HubError(`"${repo}" is not a Hub dataset id (expected "owner/name")`);
  const rev = opts.revision || 'main';
  const config = opts.config || undefined;
  const entries = await listTree(repo, rev, '', opts);
  if (!entries) {
    throw new HubError(
      `The Hub has no dataset ${repo} at revision "${rev}" (HTTP 404): check the dataset id (as in huggingface.co/datasets/${repo}) and the revision; a private dataset also needs an access token.`,
      404,
    );
  }
  let files = entries.filter((e) => e.type === 'file' && e.path.toLowerCase().endsWith('.parquet'));
  if (config && config !== 'default') files = files.filter((e) => e.path.split('/').slice(0, -1).includes(config));
  const split = opts.split || (files.some((e) => inSplit(e.path, 'train')) ? 'train' : undefined);
  if (split) files = files.filter((e) => inSplit(e.path, split));
  if (files.length === 0 && rev !== PARQUET_CONVERSION_REVISION) {
    const converted = await listTree(repo, PARQUET_CONVERSION_REVISION, `${config ?? 'default'}/${split ?? 'train'}`, opts);
    const pq = (converted ?? []).filter((e) => e.type === 'file' && e.path.toLowerCase().endsWith('.parquet'));
    if (pq.length) return { revision: PARQUET_CONVERSION_REVISION, files: sorted(pq) };
  }
  if (files.length === 0) {
    const what = `${config ? `config "${config}", ` : ''}split "${split ?? 'train'}"`;
    throw new HubError(
      `Dataset ${repo} at "${rev}" has no Parquet files for ${what}, and no Parquet conversion of it at ${PARQUET_CONVERSION_REVISION}: check the config and split names on its dataset page.`,
    );
  }
  return { revision: rev, files: sorted(files) };
}

function sorted(entries: TreeEntry[]): { path: string; size?: number }[] {
  return entries.map((e) => ({ path: e.path, size: e.size })).sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
