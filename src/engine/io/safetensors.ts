// safetensors: read (random access, one tensor at a time) and write.
// Format: u64 little-endian header length N, N bytes of JSON
//   { "<name>": { "dtype": "F32", "shape": [..], "data_offsets": [begin, end] }, "__metadata__": {..} }
// then the data; offsets are relative to the end of the header. Writing pads the JSON with
// spaces to a multiple of 8 and lays tensors out contiguously from 0 in the order given.

import type { ByteSource } from './bytes.ts';
import { describeValue, jsonErrorText, jsonNesting, MAX_JSON_DEPTH, MAX_TENSOR_DIMS } from './limits.ts';

export const DTYPE_BYTES = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 } as const;
export type Dtype = keyof typeof DTYPE_BYTES;
/** Dtypes that load as float weights. */
export const FLOAT_DTYPES: readonly Dtype[] = ['F32', 'F16', 'BF16'];

export interface TensorInfo {
  name: string;
  dtype: Dtype;
  shape: number[];
  /** Absolute byte range in the file. */
  begin: number;
  end: number;
}

export class SafetensorsError extends Error {
  override name = 'SafetensorsError';
}

/** The largest header read (the reference implementation's limit too). */
export const MAX_SAFETENSORS_HEADER = 100 * 1024 * 1024;

function isDtype(s: unknown): s is Dtype {
  return typeof s === 'string' && Object.hasOwn(DTYPE_BYTES, s);
}

export class SafetensorsFile {
  private constructor(
    readonly source: ByteSource,
    readonly tensors: Map<string, TensorInfo>,
    readonly metadata: Record<string, string>,
  ) {}

  static async open(source: ByteSource): Promise<SafetensorsFile> {
    const fail = (why: string) => new SafetensorsError(`${source.name}: not a valid safetensors file: ${why}`);
    if (source.size < 8) throw fail(`${source.size} bytes is shorter than the 8-byte header length`);
    const lenBytes = await source.read(0, 8);
    const view = new DataView(lenBytes.buffer, lenBytes.byteOffset, 8);
    const n = Number(view.getBigUint64(0, true));
    if (n > MAX_SAFETENSORS_HEADER) throw fail(`header length ${n} is more than the ${MAX_SAFETENSORS_HEADER} bytes webtune reads (MAX_SAFETENSORS_HEADER); the file is damaged or not safetensors`);
    if (8 + n > source.size) throw fail(`header length ${n} does not fit in a ${source.size}-byte file (truncated?)`);
    let json: unknown;
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(await source.read(8, n));
    } catch {
      throw fail('header is not UTF-8 text');
    }
    const nest = jsonNesting(text);
    if (nest.line !== undefined) throw fail(`header JSON nests ${nest.depth} levels deep; webtune reads at most ${MAX_JSON_DEPTH} (MAX_JSON_DEPTH) and a valid header nests 3`);
    try {
      json = JSON.parse(text);
    } catch (e) {
      throw fail(`header is not JSON (${jsonErrorText(e)})`);
    }
    if (typeof json !== 'object' || json === null || Array.isArray(json)) throw fail('header is not a JSON object');
    const dataStart = 8 + n;
    const dataSize = source.size - dataStart;
    const tensors = new Map<string, TensorInfo>();
    let metadata: Record<string, string> = {};
    for (const [name, v] of Object.entries(json)) {
      if (name === '__metadata__') {
        if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
          metadata = Object.fromEntries(Object.entries(v).filter((e): e is [string, string] => typeof e[1] === 'string'));
        }
        continue;
      }
      if (typeof v !== 'object' || v === null) throw fail(`tensor "${name}": entry is not an object`);
      const { dtype, shape, data_offsets: off } = v as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
      if (!isDtype(dtype)) throw fail(`tensor "${name}": unknown dtype ${describeValue(dtype)} (expected one of ${Object.keys(DTYPE_BYTES).join(', ')})`);
      if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw fail(`tensor "${name}": shape ${describeValue(shape)} is not a list of non-negative integers`);
      if (shape.length > MAX_TENSOR_DIMS) throw fail(`tensor "${name}": ${shape.length} dimensions; webtune reads at most ${MAX_TENSOR_DIMS} (MAX_TENSOR_DIMS)`);
      if (!Array.isArray(off) || off.length !== 2 || !off.every((d) => Number.isSafeInteger(d) && d >= 0) || off[1] < off[0]) {
        throw fail(`tensor "${name}": data_offsets ${describeValue(off)} is not [begin, end] with 0 ≤ begin ≤ end`);
      }
      const [b, e] = off as [number, number];
      const want = shape.reduce((a: number, d: number) => a * d, 1) * DTYPE_BYTES[dtype];
      if (!Number.isSafeInteger(want)) throw fail(`tensor "${name}": ${dtype}[${shape.join(', ')}] is larger than any file`);
      if (e - b !== want) throw fail(`tensor "${name}": ${dtype}[${shape.join(', ')}] needs ${want} bytes, data_offsets give ${e - b}`);
      if (e > dataSize) throw fail(`tensor "${name}": data_offsets end ${e} is past the data (${dataSize} bytes)`);
      tensors.set(name, { name, dtype, shape: shape as number[], begin: dataStart + b, end: dataStart + e });
    }
    // As the reference implementation requires: tensors tile the data exactly, no overlap, no holes.
    let end = dataStart;
    for (const t of [...tensors.values()].sort((a, b) => a.begin - b.begin || a.end - b.end)) {
      if (t.begin < end) throw fail(`tensor "${t.name}" overlaps the tensor before it (starts at ${t.begin - dataStart}, previous ends at ${end - dataStart})`);
      if (t.begin > end) throw fail(`a hole of ${t.begin - end} bytes before tensor "${t.name}"`);
      end = t.end;
    }
    if (end !== source.size) throw fail(`${source.size - end} bytes after the last tensor are not described by the header`);
    return new SafetensorsFile(source, tensors, metadata);
  }

  /** Tensor names in file order. */
  get names(): string[] {
    return [...this.tensors.values()].sort((a, b) => a.begin - b.begin).map((t) => t.name);
  }

  info(name: string): TensorInfo {
    const t = this.tensors.get(name);
    if (!t) throw new SafetensorsError(`${this.source.name}: no tensor named "${name}"`);
    return t;
  }

  async readRaw(name: string): Promise<Uint8Array> {
    const t = this.info(name);
    return this.source.read(t.begin, t.end - t.begin);
  }

  /** A float tensor (F32, F16 or BF16 on disk) as f32. */
  async readF32(name: string): Promise<Float32Array> {
    const t = this.info(name);
    if (!FLOAT_DTYPES.includes(t.dtype)) {
      throw new SafetensorsError(`${this.source.name}: tensor "${name}" is ${t.dtype}; weights must be F32, F16 or BF16`);
    }
    return toF32(await this.readRaw(name), t.dtype);
  }

  /** An integer tensor (I32 or I64 within ±2^31) as i32. */
  async readI32(name: string): Promise<Int32Array> {
    const t = this.info(name);
    const raw = await this.readRaw(name);
    const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const n = raw.byteLength / DTYPE_BYTES[t.dtype];
    const out = new Int32Array(n);
    if (t.dtype === 'I32') for (let i = 0; i < n; i++) out[i] = dv.getInt32(i * 4, true);
    else if (t.dtype === 'I64') {
      for (let i = 0; i < n; i++) {
        const v = dv.getBigInt64(i * 8, true);
        if (v > 2147483647n || v < -2147483648n) throw new SafetensorsError(`${this.source.name}: "${name}"[${i}] = ${v} does not fit in int32`);
        out[i] = Number(v);
      }
    } else throw new SafetensorsError(`${this.source.name}: tensor "${name}" is ${t.dtype}; expected I32 or I64`);
    return out;
  }
}

export function f16ToF32(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

export function toF32(raw: Uint8Array, dtype: Dtype): Float32Array {
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const n = raw.byteLength / DTYPE_BYTES[dtype];
  const out = new Float32Array(n);
  if (dtype === 'F32') for (let i = 0; i < n; i++) out[i] = dv.getFloat32(i * 4, true);
  else if (dtype === 'F16') for (let i = 0; i < n; i++) out[i] = f16ToF32(dv.getUint16(i * 2, true));
  else if (dtype === 'BF16') {
    const u = new Uint32Array(out.buffer);
    for (let i = 0; i < n; i++) u[i] = dv.getUint16(i * 2, true) << 16;
  } else throw new SafetensorsError(`cannot convert ${dtype} to f32`);
  return out;
}

export interface TensorToWrite {
  name: string;
  dtype: Dtype;
  shape: readonly number[];
  /** Little-endian bytes of exactly prod(shape) * sizeof(dtype). */
  data: ArrayBufferView;
}

/** Serialise tensors into one safetensors file. */
export function writeSafetensors(tensors: readonly TensorToWrite[], metadata?: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let offset = 0;
  for (const t of tensors) {
    if (t.name === '__metadata__' || Object.hasOwn(header, t.name)) throw new SafetensorsError(`duplicate or reserved tensor name "${t.name}"`);
    const want = t.shape.reduce((a, d) => a * d, 1) * DTYPE_BYTES[t.dtype];
    if (t.data.byteLength !== want) throw new SafetensorsError(`tensor "${t.name}": ${t.dtype}${JSON.stringify(t.shape)} needs ${want} bytes, got ${t.data.byteLength}`);
    header[t.name] = { dtype: t.dtype, shape: [...t.shape], data_offsets: [offset, offset + want] };
    offset += want;
  }
  let json = JSON.stringify(header);
  const enc = new TextEncoder();
  let hb = enc.encode(json);
  const pad = (8 - (hb.byteLength % 8)) % 8;
  if (pad) hb = enc.encode(json + ' '.repeat(pad));
  json = '';
  const out = new Uint8Array(8 + hb.byteLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(hb.byteLength), true);
  out.set(hb, 8);
  let at = 8 + hb.byteLength;
  for (const t of tensors) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), at);
    at += t.data.byteLength;
  }
  return out;
}
