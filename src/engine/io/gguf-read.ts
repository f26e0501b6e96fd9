// GGUF reading (v2 and v3, little-endian; the layout export/gguf.ts writes): the header,
// metadata and tensor infos parsed from a ByteSource a chunk at a time, each count, length
// and offset checked against hard limits and the file's size before anything is allocated,
// so a damaged or hostile file gives a GgufReadError naming the file and what is wrong,
// never a huge allocation, a hang or a RangeError. Tensor data is read one tensor at a time.

import type { ByteSource } from './bytes.ts';
import { GGML_TYPES, ggmlTypeName } from '../quant/ggml.ts';

export class GgufReadError extends Error {
  override name = 'GgufReadError';
}

export type GgufMetaValue = number | bigint | boolean | string | GgufMetaValue[];

export interface GgufTensorEntry {
  name: string;
  /** PyTorch order (outermost first): ggml's ne reversed. */
  shape: number[];
  /** ggml_type code. */
  type: number;
  /** Absolute byte range in the file. */
  begin: number;
  end: number;
}

export interface GgufFile {
  source: ByteSource;
  version: number;
  metadata: Map<string, GgufMetaValue>;
  tensors: Map<string, GgufTensorEntry>;
  alignment: number;
  dataStart: number;
}

/** Hard limits (far above any real model's) that bound what a file can make us allocate. */
export const GGUF_LIMITS = {
  tensors: 1 << 20,
  kv: 1 << 20,
  /** One string (a chat template, a token) at most this many bytes. */
  string: 1 << 26,
  /** Elements of one metadata array. */
  array: 1 << 26,
  /** Bytes of header (metadata + tensor infos). */
  header: 1 << 30,
  dims: 4,
};

const SCALAR_BYTES: Record<number, number> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };

/** A forward reader over a ByteSource that fetches the header in growing chunks. */
class Cursor {
  private buf: Uint8Array = new Uint8Array(0);
  private view: DataView = new DataView(this.buf.buffer);
  private base = 0; // file offset of buf[0]
  pos = 0; // file offset

  constructor(
    private readonly src: ByteSource,
    private readonly fail: (why: string) => GgufReadError,
  ) {}

  private async need(n: number): Promise<number> {
    if (!(n >= 0) || this.pos + n > this.src.size) throw this.fail(`it ends inside its header (needs ${n} more bytes at offset ${this.pos}, the file has ${this.src.size})`);
    if (this.pos + n > GGUF_LIMITS.header) throw this.fail(`its header is larger than ${GGUF_LIMITS.header} bytes`);
    const at = this.pos - this.base;
    if (at + n <= this.buf.length) return at;
    const want = Math.min(this.src.size - this.pos, Math.max(n, 1 << 20, this.buf.length));
    const chunk = await this.src.read(this.pos, want);
    if (chunk.length < n) throw this.fail(`a read at offset ${this.pos} returned ${chunk.length} of ${n} bytes`);
    this.buf = chunk;
    this.view = new DataView(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    this.base = this.pos;
    return 0;
  }

  async u8() { const at = await this.need(1); this.pos += 1; return this.view.getUint8(at); }
  async i8() { const at = await this.need(1); this.pos += 1; return this.view.getInt8(at); }
  async u16() { const at = await this.need(2); this.pos += 2; return this.view.getUint16(at, true); }
  async i16() { const at = await this.need(2); this.pos += 2; return this.view.getInt16(at, true); }
  async u32() { const at = await this.need(4); this.pos += 4; return this.view.getUint32(at, true); }
  async i32() { const at = await this.need(4); this.pos += 4; return this.view.getInt32(at, true); }
  async f32() { const at = await this.need(4); this.pos += 4; return this.view.getFloat32(at, true); }
  async f64() { const at = await this.need(8); this.pos += 8; return this.view.getFloat64(at, true); }
  async i64() { const at = await this.need(8); this.pos += 8; return this.view.getBigInt64(at, true); }
  async u64big() { const at = await this.need(8); this.pos += 8; return this.view.getBigUint64(at, true); }
  /** A u64 that must be ≤ max (checked before it becomes a number). */
  async count(max: number, what: string): Promise<number> {
    const v = await this.u64big();
    if (v > BigInt(max)) throw this.fail(`${what} is ${v}, more than ${max}`);
    return Number(v);
  }
  async str(what: string): Promise<string> {
    const n = await this.count(GGUF_LIMITS.string, `the length of ${what}`);
    const at = await this.need(n);
    this.pos += n;
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(this.buf.subarray(at, at + n));
    } catch {
      throw this.fail(`${what} is not UTF-8`);
    }
  }
}

async function readValue(c: Cursor, type: number, what: string, fail: (why: string) => GgufReadError, depth = 0): Promise<GgufMetaValue> {
  switch (type) {
    case 0: return c.u8();
    case 1: return c.i8();
    case 2: return c.u16();
    case 3: return c.i16();
    case 4: return c.u32();
    case 5: return c.i32();
    case 6: return c.f32();
    case 7: {
      const b = await c.u8();
      if (b > 1) throw fail(`${what}: a bool is ${b}`);
      return b === 1;
    }
    case 8: return c.str(what);
    case 9: {
      if (depth > 2) throw fail(`${what}: arrays nested deeper than 2`);
      const of = await c.u32();
      const n = await c.count(GGUF_LIMITS.array, `the length of ${what}`);
      const size = SCALAR_BYTES[of];
      if (size !== undefined && c.pos + n * size > Number.MAX_SAFE_INTEGER) throw fail(`${what} is too long`);
      const out: GgufMetaValue[] = new Array(Math.min(n, 1 << 16));
      out.length = 0;
      for (let i = 0; i < n; i++) out.push(await readValue(c, of, `${what}[${i}]`, fail, depth + 1));
      return out;
    }
    case 10: return c.u64big();
    case 11: return c.i64();
    case 12: return c.f64();
  }
  throw fail(`${what} has value type ${type}, which GGUF does not define`);
}

/** Parse a GGUF file's header (nothing of the tensor data is read). */
export async function openGguf(source: ByteSource): Promise<GgufFile> {
  const fail = (why: string) => new GgufReadError(`${source.name}: not a GGUF file webtune can read: ${why}`);
  const c = new Cursor(source, fail);
  if (source.size < 24) throw fail(`${source.size} bytes is shorter than a GGUF header`);
  const magic = await c.u32();
  if (magic !== 0x46554747) throw fail('it does not start with "GGUF"');
  const version = await c.u32();
  if (version !== 2 && version !== 3) throw fail(`it is GGUF version ${version} (webtune reads 2 and 3)`);
  const nTensors = await c.count(GGUF_LIMITS.tensors, 'the tensor count');
  const nKv = await c.count(GGUF_LIMITS.kv, 'the metadata count');
  const metadata = new Map<string, GgufMetaValue>();
  for (let i = 0; i < nKv; i++) {
    const key = await c.str(`metadata key ${i}`);
    if (metadata.has(key)) throw fail(`metadata "${key}" is given twice`);
    const type = await c.u32();
    metadata.set(key, await readValue(c, type, `metadata "${key}"`, fail));
  }
  const al = metadata.get('general.alignment');
  let alignment = 32;
  if (al !== undefined) {
    if (typeof al !== 'number' || !Number.isInteger(al) || al < 1 || al > 1 << 20 || (al & (al - 1)) !== 0) throw fail(`general.alignment ${String(al)} is not a power of two`);
    alignment = al;
  }
  const infos: { name: string; shape: number[]; type: number; offset: bigint }[] = [];
  const names = new Set<string>();
  for (let i = 0; i < nTensors; i++) {
    const name = await c.str(`tensor name ${i}`);
    if (!name || names.has(name)) throw fail(`tensor ${i} has ${name ? `the repeated name "${name}"` : 'an empty name'}`);
    names.add(name);
    const nd = await c.u32();
    if (nd < 1 || nd > GGUF_LIMITS.dims) throw fail(`tensor "${name}" has ${nd} dimensions (1 to ${GGUF_LIMITS.dims})`);
    const ne: number[] = [];
    let n = 1;
    for (let d = 0; d < nd; d++) {
      const v = await c.count(Number.MAX_SAFE_INTEGER, `dimension ${d} of "${name}"`);
      if (v < 1) throw fail(`tensor "${name}" has a dimension of ${v}`);
      n *= v;
      if (n > source.size * 8) throw fail(`tensor "${name}" has more values than the file could hold`);
      ne.push(v);
    }
    const type = await c.u32();
    const offset = await c.u64big();
    infos.push({ name, shape: ne.reverse(), type, offset });
  }
  const dataStart = Math.ceil(c.pos / alignment) * alignment;
  const tensors = new Map<string, GgufTensorEntry>();
  const ranges: [number, number, string][] = [];
  for (const t of infos) {
    if (t.offset % BigInt(alignment) !== 0n) throw fail(`tensor "${t.name}" starts at ${t.offset}, not a multiple of the alignment ${alignment}`);
    const n = t.shape.reduce((a, d) => a * d, 1);
    const info = GGML_TYPES.get(t.type);
    let bytes = 0;
    if (info) {
      if (t.shape[t.shape.length - 1] % info.block !== 0) throw fail(`tensor "${t.name}" (${info.name}) has rows of ${t.shape[t.shape.length - 1]} values, not whole blocks of ${info.block}`);
      bytes = (n / info.block) * info.bytes;
    } // A type this engine does not decode stays listed (loading it fails by name); only its start is checked.
    const begin = dataStart + Number(t.offset);
    if (t.offset > BigInt(source.size) || begin + bytes > source.size) throw fail(`tensor "${t.name}" (${ggmlTypeName(t.type)}, ${bytes} bytes at ${begin}) lies past the end of the ${source.size}-byte file`);
    if (info) ranges.push([begin, begin + bytes, t.name]);
    tensors.set(t.name, { name: t.name, shape: t.shape, type: t.type, begin, end: begin + bytes });
  }
  ranges.sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < ranges.length; i++) if (ranges[i][0] < ranges[i - 1][1]) throw fail(`tensors "${ranges[i - 1][2]}" and "${ranges[i][2]}" overlap`);
  return { source, version, metadata, tensors, alignment, dataStart };
}

/** The raw bytes of one tensor (a type this engine reads). */
export async function readGgufTensorBytes(f: GgufFile, name: string): Promise<Uint8Array> {
  const t = f.tensors.get(name);
  if (!t) throw new GgufReadError(`${f.source.name} has no tensor "${name}"`);
  if (!GGML_TYPES.has(t.type)) throw new GgufReadError(`${f.source.name}: tensor "${name}" is ${ggmlTypeName(t.type)}, which webtune does not read (it reads F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q5_K, Q6_K)`);
  const b = await f.source.read(t.begin, t.end - t.begin);
  if (b.length !== t.end - t.begin) throw new GgufReadError(`${f.source.name}: tensor "${name}" could not be read whole`);
  return b;
}

/** Metadata accessors that name the key and the file in their errors. */
export function ggufMeta(f: GgufFile) {
  const where = f.source.name;
  const get = (k: string) => f.metadata.get(k);
  return {
    get,
    str(k: string, fallback?: string): string {
      const v = get(k) ?? fallback;
      if (typeof v !== 'string') throw new GgufReadError(`${where}: metadata "${k}" should be a string, found ${v === undefined ? 'nothing' : typeof v}`);
      return v;
    },
    optStr(k: string): string | undefined {
      const v = get(k);
      return typeof v === 'string' ? v : undefined;
    },
    int(k: string, fallback?: number): number {
      let v = get(k) ?? fallback;
      if (typeof v === 'bigint' && v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= 0n) v = Number(v);
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new GgufReadError(`${where}: metadata "${k}" should be a non-negative integer, found ${v === undefined ? 'nothing' : String(v)}`);
      return v;
    },
    optInt(k: string): number | undefined {
      const v = get(k);
      if (typeof v === 'bigint' && v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= 0n) return Number(v);
      return typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v : undefined;
    },
    num(k: string, fallback?: number): number {
      const v = get(k) ?? fallback;
      if (typeof v !== 'number' || !Number.isFinite(v)) throw new GgufReadError(`${where}: metadata "${k}" should be a number, found ${v === undefined ? 'nothing' : String(v)}`);
      return v;
    },
    bool(k: string): boolean | undefined {
      const v = get(k);
      return typeof v === 'boolean' ? v : undefined;
    },
    strings(k: string): string[] | undefined {
      const v = get(k);
      if (v === undefined) return undefined;
      if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new GgufReadError(`${where}: metadata "${k}" should be an array of strings`);
      return v as string[];
    },
    numbers(k: string): number[] | undefined {
      const v = get(k);
      if (v === undefined) return undefined;
      if (!Array.isArray(v) || !v.every((x) => typeof x === 'number')) throw new GgufReadError(`${where}: metadata "${k}" should be an array of numbers`);
      return v as number[];
    },
  };
}
