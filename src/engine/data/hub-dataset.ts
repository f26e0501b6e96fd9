// A Hugging Face dataset by id as typed rows: its Parquet files for a config and split (listed
// by io/hub.ts: the repo's own, or the Hub's conversion at refs/convert/parquet), downloaded
// into the Hub file cache one at a time with progress, and parsed with parseParquet until the
// row cap is reached, so a huge dataset costs only the files its first rows are in.
// Host-free: the worker passes its OPFS cache, Node a directory cache.

import { hubDatasetParquetFiles, hubFile, type FileCache, type HubProgress } from '../io/hub.ts';
import type { FieldMapping, ParsedDataset } from './dataset.ts';
import { DEFAULT_MAX_ROWS, parseParquet } from './parquet.ts';

export interface HubDatasetSource {
  repo: string;
  /** "main" when empty. */
  revision?: string;
  config?: string;
  split?: string;
  /** DEFAULT_MAX_ROWS (50,000) when absent. */
  maxRows?: number;
}

export interface HubDatasetOptions {
  token?: string;
  endpoint?: string;
  cache: FileCache;
  onProgress?: (p: HubProgress) => void;
  fetch?: typeof fetch;
  signal?: AbortSignal;
}

/**
 * Rows of a Hub dataset (the first maxRows records; `capped` set when there are more) and the
 * name it is shown by: `hf:<repo>@<revision>` with the config / split asked for. Row numbers
 * in errors count across the files in order; with several files each message names its file.
 */
export async function loadHubParquet(src: HubDatasetSource, opts: HubDatasetOptions, mapping?: FieldMapping): Promise<{ name: string; parsed: ParsedDataset }> {
  const repo = src.repo.trim();
  const maxRows = src.maxRows ?? DEFAULT_MAX_ROWS;
  if (!(Number.isInteger(maxRows) && maxRows >= 1)) throw new RangeError(`maxRows must be a positive integer (got ${maxRows})`);
  const config = src.config?.trim() || undefined;
  const split = src.split?.trim() || undefined;
  const { token, endpoint, fetch, signal } = opts;
  const listed = await hubDatasetParquetFiles(repo, { revision: src.revision?.trim() || 'main', token, endpoint, fetch, signal, config, split });
  const out: ParsedDataset = { rows: [], errors: [], format: 'parquet' };
  let read = 0; // records read, good and bad
  let total = 0; // records in the files read
  let capped = false;
  let skipped = false; // files left unread: the total is then unknown
  for (const f of listed.files) {
    if (read >= maxRows) {
      capped = skipped = true;
      break;
    }
    const file = await hubFile(repo, f.path, { revision: listed.revision, repoType: 'dataset', token, endpoint, fetch, signal, cache: opts.cache, onProgress: opts.onProgress });
    const parsed = await parseParquet(f.path, await file.read(0, file.size), mapping, { maxRows: maxRows - read, rowOffset: read });
    const got = parsed.rows.length + parsed.errors.length;
    for (const r of parsed.rows) out.rows.push(r);
    for (const e of parsed.errors) out.errors.push(listed.files.length > 1 ? { ...e, message: `${f.path}: ${e.message}` } : e);
    read += got;
    total += parsed.capped?.total ?? got;
    if (parsed.capped) capped = true;
  }
  if (capped) out.capped = skipped ? { at: maxRows } : { at: maxRows, total };
  const where = [config, split].filter(Boolean).join('/');
  return { name: `hf:${repo}@${listed.revision}${where ? ` (${where})` : ''}`, parsed: out };
}
