// Parquet dataset files (what the Hugging Face Hub stores datasets as) into the same typed rows
// as parseDataset: each Parquet row becomes a record { column: value } and goes through the
// shared classifier (readRecords in dataset.ts), so field detection and mappings are the same
// as for JSONL; unreadable rows are listed by their 1-based row number and the rest kept.
//
// Read with hyparquet (pure JavaScript, no WASM: runs in the worker and in Node). Snappy is
// built in, which is what pyarrow and the Hub's converter write by default; other codecs
// (zstd, brotli) throw a clear error naming the file.

import { parquetMetadata, parquetReadObjects } from 'hyparquet';
import { readRecords, type FieldMapping, type ParsedDataset } from './dataset.ts';

/** At most this many rows are read from a Parquet source unless told otherwise. */
export const DEFAULT_MAX_ROWS = 50_000;

export interface ParquetOptions {
  /** Read at most this many rows (the first ones); default DEFAULT_MAX_ROWS. */
  maxRows?: number;
  /** Row numbers in errors start after this many (for a dataset of several files). */
  rowOffset?: number;
}

/** Plain JSON-like values: BigInt (INT64) as Number when safe, else as a decimal string; typed arrays as arrays. */
function plain(v: unknown): unknown {
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  if (Array.isArray(v)) return v.map(plain);
  if (ArrayBuffer.isView(v) && !(v instanceof DataView)) return Array.from(v as unknown as ArrayLike<number | bigint>, plain);
  if (v instanceof Date) return v.toISOString();
  if (typeof v === 'object' && v !== null) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  return v;
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * Parse a Parquet file's bytes into dataset rows (the first `maxRows` of them). Throws when
 * the bytes are not a Parquet file or its pages cannot be decoded; `capped` is set when the
 * file has more rows than were read.
 */
export async function parseParquet(name: string, bytes: Uint8Array, mapping?: FieldMapping, opts: ParquetOptions = {}): Promise<ParsedDataset> {
  const maxRows = opts.maxRows ?? DEFAULT_MAX_ROWS;
  if (!(Number.isInteger(maxRows) && maxRows >= 1)) throw new RangeError(`parseParquet: maxRows must be a positive integer (got ${maxRows})`);
  const file = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer ? bytes.buffer : bytes.slice().buffer;
  const out: ParsedDataset = { rows: [], errors: [], format: 'parquet' };
  let total: number;
  let metadata;
  try {
    metadata = parquetMetadata(file);
    total = Number(metadata.num_rows);
  } catch (e) {
    throw new Error(`${name} is not a readable Parquet file (${errorText(e)})`);
  }
  const rowEnd = Math.min(total, maxRows);
  if (total > rowEnd) out.capped = { at: maxRows, total };
  if (rowEnd === 0) {
    out.errors.push({ line: 1, message: 'the Parquet file has no rows' });
    return out;
  }
  let rows: Record<string, unknown>[];
  try {
    rows = await parquetReadObjects({ file, metadata, rowStart: 0, rowEnd });
  } catch (e) {
    throw new Error(`${name}: cannot decode its Parquet data (${errorText(e)})`);
  }
  const base = opts.rowOffset ?? 0;
  readRecords(rows.map((r, i) => ({ line: base + i + 1, value: plain(r) })), mapping, out);
  return out;
}
