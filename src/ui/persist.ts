// The page's own storage of finished runs: their RunView records (configs, step and eval
// points, summary) and their default export files, kept in IndexedDB (the raw API; no
// dependency) so that after a reload the runs are listed again and, once the model they
// trained on is loaded, re-registered in the worker (EngineApi.restoreRun) for export and
// the playground. Also the pure helpers the export buttons need: a STORE-only zip writer
// (CRC-32, local headers, central directory) and a Blob download. Framework-free.

import type { ExportFile } from '../engine/methods/types.ts';
import type { RunView } from './store/runTypes.ts';

// ---------------------------------------------------------------------------------------
// Stored records

/** One run as kept in the 'runs' store (key: `view.id`). */
export interface StoredRun {
  view: RunView;
  savedAt: number;
}

/** The run's default export (the first of its exportFormats), in the 'files' store. */
export interface StoredFiles {
  id: string;
  format: string;
  files: ExportFile[];
}

/**
 * The key a run is stored under. Worker ids (`run-N`) start again at 1 in every page
 * session, so a stored run keeps a key no later worker run can take: the worker id plus
 * a tag of the session that trained it. After a reload that key is the run's id in the
 * page and the id it is re-registered under in the worker (restoreRun accepts any id).
 */
export function storageKey(id: string, sessionTag: string): string {
  return /^run-\d+$/.test(id) ? `${id}.${sessionTag}` : id;
}

/** A short tag for this page session (base 36 milliseconds). */
export function newSessionTag(now = Date.now()): string {
  return now.toString(36);
}

/** Bytes a stored run takes by our own count: its JSON record plus its export files. */
export function recordBytes(view: RunView, files?: readonly ExportFile[]): number {
  const json = new TextEncoder().encode(JSON.stringify(view)).length;
  return json + (files ?? []).reduce((a, f) => a + f.bytes.byteLength, 0);
}

// ---------------------------------------------------------------------------------------
// IndexedDB

const DB_NAME = 'webtune';
const DB_VERSION = 1;
const RUNS = 'runs';
const FILES = 'files';

function request<T>(r: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error ?? new Error('IndexedDB request failed'));
  });
}

function done(tx: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onabort = () => reject(tx.error ?? new Error('IndexedDB transaction aborted'));
    tx.onerror = () => reject(tx.error ?? new Error('IndexedDB transaction failed'));
  });
}

let dbPromise: Promise<IDBDatabase> | undefined;

function openDb(): Promise<IDBDatabase> {
  if (!dbPromise) {
    if (typeof indexedDB === 'undefined') return Promise.reject(new Error('IndexedDB is not available in this browser'));
    const open = indexedDB.open(DB_NAME, DB_VERSION);
    open.onupgradeneeded = () => {
      const db = open.result;
      if (!db.objectStoreNames.contains(RUNS)) db.createObjectStore(RUNS, { keyPath: 'view.id' });
      if (!db.objectStoreNames.contains(FILES)) db.createObjectStore(FILES, { keyPath: 'id' });
    };
    dbPromise = request(open);
    dbPromise.catch(() => (dbPromise = undefined));
  }
  return dbPromise;
}

/** Every stored run, oldest first, with the byte count of its files. */
export async function loadStoredRuns(): Promise<{ run: StoredRun; fileBytes: number }[]> {
  const db = await openDb();
  const tx = db.transaction([RUNS, FILES], 'readonly');
  const runs = await request(tx.objectStore(RUNS).getAll() as IDBRequest<StoredRun[]>);
  const files = await request(tx.objectStore(FILES).getAll() as IDBRequest<StoredFiles[]>);
  const bytes = new Map(files.map((f) => [f.id, f.files.reduce((a, x) => a + x.bytes.byteLength, 0)]));
  return runs.sort((a, b) => a.view.createdAt - b.view.createdAt).map((run) => ({ run, fileBytes: bytes.get(run.view.id) ?? 0 }));
}

/** Save (or replace) a run and, when given, its files, in one transaction. */
export async function saveRun(view: RunView, files?: StoredFiles): Promise<void> {
  const db = await openDb();
  const tx = db.transaction([RUNS, FILES], 'readwrite');
  tx.objectStore(RUNS).put({ view, savedAt: Date.now() } satisfies StoredRun);
  if (files) tx.objectStore(FILES).put(files);
  await done(tx);
}

export async function loadFiles(id: string): Promise<StoredFiles | undefined> {
  const db = await openDb();
  return request(db.transaction(FILES, 'readonly').objectStore(FILES).get(id) as IDBRequest<StoredFiles | undefined>);
}

export async function deleteStoredRun(id: string): Promise<void> {
  const db = await openDb();
  const tx = db.transaction([RUNS, FILES], 'readwrite');
  tx.objectStore(RUNS).delete(id);
  tx.objectStore(FILES).delete(id);
  await done(tx);
}

/** The browser's estimate for this origin (all storage: IndexedDB, OPFS Hub cache, …). */
export async function storageEstimate(): Promise<{ usage?: number; quota?: number }> {
  try {
    const e = await navigator.storage?.estimate?.();
    return { usage: e?.usage, quota: e?.quota };
  } catch {
    return {};
  }
}

// ---------------------------------------------------------------------------------------
// Zip (STORE only: no compression, which adapters barely need; no dependency)

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 (IEEE 802.3, as zip and gzip use it). */
export function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** MS-DOS time and date fields of a zip entry. */
function dosDateTime(d: Date): { time: number; date: number } {
  const time = (d.getHours() << 11) | (d.getMinutes() << 5) | (d.getSeconds() >> 1);
  const date = (Math.max(0, d.getFullYear() - 1980) << 9) | ((d.getMonth() + 1) << 5) | d.getDate();
  return { time, date };
}

/**
 * A zip archive of `files`, stored uncompressed (method 0): per file a local header
 * (signature 0x04034b50) and the bytes, then the central directory (0x02014b50 per file)
 * and its end record (0x06054b50). Names are UTF-8 (flag bit 11). No zip64: each file
 * and the whole archive must stay under 4 GiB.
 */
export function zipStore(files: readonly ExportFile[], when = new Date()): Uint8Array {
  const enc = new TextEncoder();
  const { time, date } = dosDateTime(when);
  const entries = files.map((f) => ({ name: enc.encode(f.name), bytes: f.bytes, crc: crc32(f.bytes) }));
  const localSize = entries.reduce((a, e) => a + 30 + e.name.length + e.bytes.length, 0);
  const centralSize = entries.reduce((a, e) => a + 46 + e.name.length, 0);
  const total = localSize + centralSize + 22;
  if (total >= 2 ** 32) throw new RangeError('zip archive over 4 GiB (no zip64)');
  const out = new Uint8Array(total);
  const v = new DataView(out.buffer);
  let p = 0;
  const u16 = (x: number) => (v.setUint16(p, x, true), (p += 2));
  const u32 = (x: number) => (v.setUint32(p, x >>> 0, true), (p += 4));
  const put = (b: Uint8Array) => (out.set(b, p), (p += b.length));
  const offsets: number[] = [];
  for (const e of entries) {
    offsets.push(p);
    u32(0x04034b50); u16(20); u16(0x0800); u16(0); u16(time); u16(date);
    u32(e.crc); u32(e.bytes.length); u32(e.bytes.length); u16(e.name.length); u16(0);
    put(e.name);
    put(e.bytes);
  }
  const centralStart = p;
  entries.forEach((e, i) => {
    u32(0x02014b50); u16(20); u16(20); u16(0x0800); u16(0); u16(time); u16(date);
    u32(e.crc); u32(e.bytes.length); u32(e.bytes.length); u16(e.name.length); u16(0); u16(0);
    u16(0); u16(0); u32(0); u32(offsets[i]);
    put(e.name);
  });
  u32(0x06054b50); u16(0); u16(0); u16(entries.length); u16(entries.length);
  u32(centralSize); u32(centralStart); u16(0);
  return out;
}

/** Read a STORE-only zip back (through its central directory); checks each CRC. */
export function unzipStore(zip: Uint8Array): ExportFile[] {
  const v = new DataView(zip.buffer, zip.byteOffset, zip.byteLength);
  const dec = new TextDecoder();
  let end = zip.length - 22;
  while (end >= 0 && v.getUint32(end, true) !== 0x06054b50) end--;
  if (end < 0) throw new Error('not a zip archive: no end of central directory');
  const count = v.getUint16(end + 10, true);
  let p = v.getUint32(end + 16, true);
  const files: ExportFile[] = [];
  for (let i = 0; i < count; i++) {
    if (v.getUint32(p, true) !== 0x02014b50) throw new Error(`bad central directory entry ${i}`);
    const method = v.getUint16(p + 10, true);
    const crc = v.getUint32(p + 16, true);
    const size = v.getUint32(p + 20, true);
    const nameLen = v.getUint16(p + 28, true);
    const extraLen = v.getUint16(p + 30, true);
    const commentLen = v.getUint16(p + 32, true);
    const local = v.getUint32(p + 42, true);
    const name = dec.decode(zip.subarray(p + 46, p + 46 + nameLen));
    if (method !== 0) throw new Error(`${name}: compression method ${method}, only STORE (0) is read`);
    if (v.getUint32(local, true) !== 0x04034b50) throw new Error(`${name}: bad local header`);
    const start = local + 30 + v.getUint16(local + 26, true) + v.getUint16(local + 28, true);
    const bytes = zip.slice(start, start + size);
    if (crc32(bytes) !== crc) throw new Error(`${name}: CRC mismatch`);
    files.push({ name, bytes });
    p += 46 + nameLen + extraLen + commentLen;
  }
  return files;
}

// ---------------------------------------------------------------------------------------
// Downloads

/** A file name safe on every OS from a run label: letters, digits, . _ - only. */
export function safeName(s: string): string {
  return s.trim().replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '') || 'run';
}

/** What one export becomes as a download: the file itself when there is one, else a zip. */
export function exportDownload(label: string, format: string, files: readonly ExportFile[]): { name: string; bytes: Uint8Array; type: string } {
  if (files.length === 1) {
    const f = files[0];
    const type = f.name.endsWith('.json') ? 'application/json' : 'application/octet-stream';
    return { name: `${safeName(label)}-${f.name}`, bytes: f.bytes, type };
  }
  return { name: `${safeName(label)}-${safeName(format)}.zip`, bytes: zipStore(files), type: 'application/zip' };
}

/** Save bytes as a file through an object URL and a clicked <a download>. */
export function downloadBytes(name: string, bytes: Uint8Array, type: string): void {
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes); // a Blob part must be backed by a plain ArrayBuffer
  const url = URL.createObjectURL(new Blob([copy.buffer], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.style.display = 'none';
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** "1.2 MiB": bytes for people. */
export function formatBytes(n: number | undefined): string {
  if (n === undefined || !Number.isFinite(n)) return '–';
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let x = n / 1024;
  let i = 0;
  while (x >= 1024 && i < units.length - 1) {
    x /= 1024;
    i++;
  }
  return `${x.toFixed(x < 10 ? 2 : x < 100 ? 1 : 0)} ${units[i]}`;
}

/** The error of a write the browser refused for want of space: what takes the space and how
 *  to free it (issue 15, item 6). Other errors are returned as they are. */
export function storageFullError(
  e: unknown,
  what: string,
  space: { usage?: number; quota?: number; runs: { label: string; bytes: number }[] },
): unknown {
  const name = e instanceof Error || (typeof e === 'object' && e !== null && 'name' in e) ? String((e as { name: unknown }).name) : '';
  if (name !== 'QuotaExceededError') return e;
  const total = space.runs.reduce((a, r) => a + r.bytes, 0);
  const largest = [...space.runs].sort((a, b) => b.bytes - a.bytes).slice(0, 3).map((r) => `${r.label} ${formatBytes(r.bytes)}`);
  const used = space.usage === undefined ? '' : ` (this site uses ${formatBytes(space.usage)}${space.quota === undefined ? '' : ` of the ${formatBytes(space.quota)} the browser allows`})`;
  const other = space.usage === undefined ? 0 : Math.max(0, space.usage - total);
  const err = new Error(
    `The browser's storage for this site is full${used}, so ${what} could not be saved. ` +
      `Stored runs take ${formatBytes(total)}${largest.length ? ` (largest: ${largest.join(', ')})` : ''}` +
      `${other ? `; the rest, ${formatBytes(other)}, is mostly the Hub download cache` : ''}. ` +
      'Delete runs you no longer need below, or clear the Hub cache under Model → Hugging Face Hub; the run stays in this tab and is saved again at the next change.',
  );
  err.name = 'StorageFullError';
  return err;
}
