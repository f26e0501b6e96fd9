// Parquet dataset files (what the Hugging Face Hub stores datasets as) into the same typed rows
// as parseDataset: each Parquet row becomes a record { column: value } and goes through the
// shared classifier (readRecords in dataset.ts), so field detection and mappings are the same
// as for JSONL; unreadable rows are listed by their 1-based row number and the rest kept.
//
// Read with hyparquet (pure JavaScript, no WASM: runs in the worker and in Node). Snappy is
// built in, which is what pyarrow and the Hub's converter write by default; other codecs
// (zstd, brotli) throw a clear error naming the file.

import { parquetMetadata, parquetReadObjects, type FileMetaData } from 'hyparquet';
import { parquetHeader } from 'hyparquet/src/column.js';
import {
  isRawJsError, PARQUET_MAX_EXPANSION, PARQUET_MAX_NESTING, PARQUET_MAX_PAGE_BYTES, PARQUET_MAX_PAGE_VALUES,
} from '../io/limits.ts';
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

/** Values (over every page read) per byte of the file beyond one page's worth: RLE packs runs tightly, never this tightly in a dataset. */
export const PARQUET_VALUES_PER_BYTE = 64;

/** hyparquet's own sentences ("parquet unsupported compression codec: ZSTD") are kept; JavaScript's are not shown. */
function errorText(e: unknown): string {
  if (!isRawJsError(e) && e instanceof Error && /^parquet /i.test(e.message)) return e.message.replace(/^parquet /i, '');
  return 'the file is damaged: a page does not match its header';
}

class ParquetLimitError extends Error {}

/**
 * Check the footer and every page header of the row groups that will be read before hyparquet
 * allocates anything from them: hyparquet sizes its arrays from `num_values` and
 * `uncompressed_page_size` as written, so a damaged header could make it loop for minutes or
 * ask for more memory than exists (an uncatchable abort). Throws ParquetLimitError naming the
 * column, row group and limit.
 */
function validatePages(file: ArrayBuffer, metadata: FileMetaData, rowEnd: number): void {
  const size = file.byteLength;
  // schema: nesting and fixed lengths
  const schema = metadata.schema;
  const stack: number[] = [];
  for (const [i, el] of schema.entries()) {
    if (el.type_length !== undefined && !(el.type_length >= 0 && el.type_length <= 1 << 20)) throw new ParquetLimitError(`column "${String(el.name)}" has a fixed length of ${String(el.type_length)} bytes`);
    const kids = el.num_children ?? 0;
    if (!(Number.isInteger(kids) && kids >= 0 && kids < schema.length)) throw new ParquetLimitError(`schema element ${i} claims more children than the schema has`);
    while (stack.length && stack[stack.length - 1] === 0) stack.pop();
    if (stack.length) stack[stack.length - 1]--;
    if (kids > 0) stack.push(kids);
    if (stack.length > PARQUET_MAX_NESTING) throw new ParquetLimitError(`the schema nests deeper than ${PARQUET_MAX_NESTING} levels (PARQUET_MAX_NESTING)`);
  }
  const repeated = new Set(schema.filter((el) => el.repetition_type === 'REPEATED').map((el) => el.name));
  let budget = PARQUET_MAX_PAGE_VALUES + PARQUET_VALUES_PER_BYTE * size;
  let groupStart = 0;
  let declared = 0;
  for (const [g, rg] of metadata.row_groups.entries()) {
    const rows = Number(rg.num_rows);
    if (!(Number.isSafeInteger(rows) && rows >= 0)) throw new ParquetLimitError(`row group ${g} gives no valid row count`);
    declared += rows;
    if (groupStart >= rowEnd || rows === 0) {
      groupStart += rows;
      continue;
    }
    for (const chunk of rg.columns) {
      const meta = chunk.meta_data;
      if (!meta) continue; // hyparquet refuses it with its own sentence
      const col = `column "${Array.isArray(meta.path_in_schema) ? meta.path_in_schema.join('.') : '?'}" in row group ${g}`;
      const start = Number(meta.dictionary_page_offset || meta.data_page_offset);
      const end = start + Number(meta.total_compressed_size);
      if (!(Number.isSafeInteger(start) && start >= 0 && Number.isSafeInteger(end) && end >= start && end <= size)) {
        throw new ParquetLimitError(`${col} lies at bytes ${start} to ${end}, outside the ${size}-byte file`);
      }
      const flat = Array.isArray(meta.path_in_schema) && !meta.path_in_schema.some((p) => repeated.has(p));
      const reader = { view: new DataView(file, start, end - start), offset: 0 };
      let values = 0;
      let page = 0;
      while (reader.offset < reader.view.byteLength - 1) {
        page++;
        let h;
        try {
          h = parquetHeader(reader);
        } catch {
          throw new ParquetLimitError(`${col}: page ${page}'s header cannot be read`);
        }
        const where = `${col}, page ${page}`;
        if (h.type === undefined) throw new ParquetLimitError(`${where}: the header names no page type`);
        const packed = h.compressed_page_size ?? -1;
        const unpacked = h.uncompressed_page_size ?? -1;
        if (!(Number.isSafeInteger(packed) && packed >= 0 && reader.offset + packed <= reader.view.byteLength)) {
          throw new ParquetLimitError(packed < 0 ? `${where}: the header gives no compressed size` : `${where}: its ${packed} bytes run past the column's ${end - start}`);
        }
        if (!(Number.isSafeInteger(unpacked) && unpacked >= 0)) throw new ParquetLimitError(`${where}: the header gives no uncompressed size`);
        if (unpacked > PARQUET_MAX_PAGE_BYTES) throw new ParquetLimitError(`${where}: ${unpacked} bytes uncompressed; webtune reads pages up to ${PARQUET_MAX_PAGE_BYTES} bytes (PARQUET_MAX_PAGE_BYTES): write the file with smaller pages`);
        const compressed = h.data_page_header_v2 ? h.data_page_header_v2.is_compressed !== false : true;
        if (meta.codec === 'UNCOMPRESSED' || !compressed) {
          if (unpacked !== packed && !h.data_page_header_v2) throw new ParquetLimitError(`${where}: an uncompressed page of ${packed} bytes says it holds ${unpacked}`);
        } else if (meta.codec === 'SNAPPY' && unpacked > packed * PARQUET_MAX_EXPANSION + 1024) {
          throw new ParquetLimitError(`${where}: ${packed} Snappy bytes cannot hold the ${unpacked} its header claims (at most ${PARQUET_MAX_EXPANSION}× expansion, PARQUET_MAX_EXPANSION)`);
        }
        const n = h.data_page_header?.num_values ?? h.data_page_header_v2?.num_values ?? h.dictionary_page_header?.num_values ?? 0;
        if (!(Number.isSafeInteger(n) && n >= 0)) throw new ParquetLimitError(`${where}: the header gives no value count`);
        if (n > PARQUET_MAX_PAGE_VALUES) throw new ParquetLimitError(`${where} claims ${n} values; webtune reads at most ${PARQUET_MAX_PAGE_VALUES} per page (PARQUET_MAX_PAGE_VALUES): write the file with smaller pages`);
        const v2 = h.data_page_header_v2;
        if (v2) {
          if (!(v2.num_nulls >= 0 && v2.num_nulls <= n && v2.num_rows >= 0 && v2.num_rows <= n)) throw new ParquetLimitError(`${where}: its counts of nulls and rows do not fit its ${n} values`);
          const levels = v2.definition_levels_byte_length + v2.repetition_levels_byte_length;
          if (!(v2.definition_levels_byte_length >= 0 && v2.repetition_levels_byte_length >= 0 && levels <= packed)) throw new ParquetLimitError(`${where}: its level lengths do not fit its ${packed} bytes`);
        }
        if (h.dictionary_page_header) {
          if (n > unpacked * 8 + 8) throw new ParquetLimitError(`${where}: a dictionary of ${n} values in ${unpacked} bytes`);
        } else if (h.data_page_header || v2) {
          values += n;
          if (flat && values > rows) throw new ParquetLimitError(`${where}: its pages hold ${values} values for the row group's ${rows} rows`);
        }
        budget -= n;
        if (budget < 0) throw new ParquetLimitError(`${col}: the pages claim more values than a file of ${size} bytes can hold (PARQUET_VALUES_PER_BYTE)`);
        reader.offset += packed;
      }
    }
    groupStart += rows;
  }
  if (declared !== Number(metadata.num_rows)) throw new ParquetLimitError(`the row groups hold ${declared} rows, the footer says ${String(metadata.num_rows)}`);
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
    const why = !isRawJsError(e) && e instanceof Error ? e.message.replace(/^parquet /i, '') : 'its footer is damaged';
    throw new Error(`${name} is not a readable Parquet file (${why})`);
  }
  if (!(Number.isSafeInteger(total) && total >= 0)) throw new Error(`${name} is not a readable Parquet file (its footer claims ${metadata.num_rows} rows)`);
  const rowEnd = Math.min(total, maxRows);
  if (total > rowEnd) out.capped = { at: maxRows, total };
  if (rowEnd === 0) {
    out.errors.push({ line: 1, message: 'the Parquet file has no rows' });
    return out;
  }
  try {
    validatePages(file, metadata, rowEnd);
  } catch (e) {
    if (e instanceof ParquetLimitError) throw new Error(`${name}: cannot read its Parquet data: ${e.message}; the file is damaged or was written in a way webtune does not read`);
    throw new Error(`${name}: cannot read its Parquet data (${errorText(e)})`);
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
