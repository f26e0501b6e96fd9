// GGUF v3 writing (ggml's file format, as llama.cpp reads it), little-endian:
//   u32 magic "GGUF" (the bytes 47 47 55 46), u32 version 3, u64 tensor count, u64 KV count;
//   KV pairs: string key, u32 value type, value (strings are u64 length + UTF-8 bytes, no
//   NUL; arrays are u32 element type, u64 count, elements);
//   tensor infos: string name, u32 n_dims, u64 dims in ggml order (ne[0] first: the
//   REVERSE of PyTorch's shape, so a PyTorch [out, in] weight has dims [in, out]), u32 ggml
//   type (F32 = 0, F16 = 1, BF16 = 30), u64 offset relative to the start of the data;
//   zero padding up to `general.alignment` (32 unless the file says otherwise); the data,
//   each tensor starting at a multiple of the alignment (zero padding between).
// This module knows nothing about models; lora-gguf.ts builds llama.cpp LoRA adapters on it.

export type GgufScalarType = 'u8' | 'i8' | 'u16' | 'i16' | 'u32' | 'i32' | 'f32' | 'bool' | 'string' | 'u64' | 'i64' | 'f64';

/** A typed metadata value. */
export type GgufValue =
  | { type: Exclude<GgufScalarType, 'bool' | 'string' | 'u64' | 'i64'>; value: number }
  | { type: 'u64' | 'i64'; value: bigint | number }
  | { type: 'bool'; value: boolean }
  | { type: 'string'; value: string }
  | { type: 'array'; of: GgufScalarType; value: readonly (number | bigint | boolean | string)[] };

/** gguf_type codes (ggml/include/gguf.h, gguf-py GGUFValueType). */
export const GGUF_VALUE_TYPE: Record<GgufScalarType | 'array', number> = {
  u8: 0, i8: 1, u16: 2, i16: 3, u32: 4, i32: 5, f32: 6, bool: 7, string: 8, array: 9, u64: 10, i64: 11, f64: 12,
};

/** ggml_type codes of the tensor types written here. */
export const GGML_TYPE = { F32: 0, F16: 1, BF16: 30 } as const;
export type GgufTensorType = keyof typeof GGML_TYPE;

export const GGUF_MAGIC = 0x46554747; // "GGUF" read as a little-endian u32
export const GGUF_VERSION = 3;
export const GGUF_DEFAULT_ALIGNMENT = 32;
/** GGML_MAX_NAME: tensor names are at most 63 bytes. */
export const GGUF_MAX_NAME = 63;
/** The largest general.alignment written (llama.cpp files use 32). */
export const GGUF_MAX_ALIGNMENT = 1 << 16;
/** GGML_MAX_DIMS. */
export const GGUF_MAX_DIMS = 4;

export interface GgufTensor {
  name: string;
  type: GgufTensorType;
  /** PyTorch order (outermost first); written reversed as ggml's ne. */
  shape: readonly number[];
  /** F32: Float32Array; F16 / BF16: Uint16Array of the bit patterns. */
  data: Float32Array | Uint16Array;
}

export class GgufError extends Error {
  override name = 'GgufError';
}

const ELEMENT_BYTES: Record<GgufTensorType, number> = { F32: 4, F16: 2, BF16: 2 };

/** A growable little-endian byte writer. */
class Out {
  private buf = new Uint8Array(1024);
  private view = new DataView(this.buf.buffer);
  length = 0;

  private room(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.length + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  u8(v: number) { this.room(1); this.view.setUint8(this.length, v); this.length += 1; }
  i8(v: number) { this.room(1); this.view.setInt8(this.length, v); this.length += 1; }
  u16(v: number) { this.room(2); this.view.setUint16(this.length, v, true); this.length += 2; }
  i16(v: number) { this.room(2); this.view.setInt16(this.length, v, true); this.length += 2; }
  u32(v: number) { this.room(4); this.view.setUint32(this.length, v, true); this.length += 4; }
  i32(v: number) { this.room(4); this.view.setInt32(this.length, v, true); this.length += 4; }
  f32(v: number) { this.room(4); this.view.setFloat32(this.length, v, true); this.length += 4; }
  f64(v: number) { this.room(8); this.view.setFloat64(this.length, v, true); this.length += 8; }
  u64(v: bigint | number) { this.room(8); this.view.setBigUint64(this.length, BigInt(v), true); this.length += 8; }
  i64(v: bigint | number) { this.room(8); this.view.setBigInt64(this.length, BigInt(v), true); this.length += 8; }
  bytes(b: Uint8Array) { this.room(b.length); this.buf.set(b, this.length); this.length += b.length; }
  str(s: string) { const b = new TextEncoder().encode(s); this.u64(b.length); this.bytes(b); }
  pad(alignment: number) { const n = (alignment - (this.length % alignment)) % alignment; this.room(n); this.length += n; /* zeroed by construction */ }
  result(): Uint8Array { return this.buf.slice(0, this.length); }
}

const INT_RANGES: Partial<Record<GgufScalarType, [bigint, bigint]>> = {
  u8: [0n, 255n], i8: [-128n, 127n], u16: [0n, 65535n], i16: [-32768n, 32767n], u32: [0n, 4294967295n], i32: [-2147483648n, 2147483647n],
  u64: [0n, 2n ** 64n - 1n], i64: [-(2n ** 63n), 2n ** 63n - 1n],
};
/** The largest finite f32. */
const F32_MAX = 3.4028234663852886e38;

/** Refuses a value its GGUF type cannot hold exactly as given (never wraps or rounds to infinity silently). */
function checkNumber(key: string, type: GgufScalarType, v: unknown): void {
  const range = INT_RANGES[type];
  const show = typeof v === 'string' ? JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v) : String(v);
  if (range) {
    const whole = typeof v === 'bigint' || (typeof v === 'number' && Number.isSafeInteger(v));
    if (!whole) throw new GgufError(`metadata "${key}": ${show} is not a ${type} (${type === 'u64' || type === 'i64' ? 'a bigint or a safe integer' : 'an integer'})`);
    const b = BigInt(v as number | bigint);
    if (b < range[0] || b > range[1]) throw new GgufError(`metadata "${key}": ${show} is not a ${type}: outside [${range[0]}, ${range[1]}]`);
  }
  if (type === 'f32' || type === 'f64') {
    if (typeof v !== 'number') throw new GgufError(`metadata "${key}": ${show} is not a number`);
    if (type === 'f32' && Number.isFinite(v) && Math.abs(v) > F32_MAX) throw new GgufError(`metadata "${key}": ${show} is too large for an f32 (it would become infinity)`);
  }
  if (type === 'bool' && typeof v !== 'boolean') throw new GgufError(`metadata "${key}": ${show} is not a boolean`);
  if (type === 'string' && typeof v !== 'string') throw new GgufError(`metadata "${key}": ${show} is not a string`);
  if (type === 'string' && !isWellFormed(v as string)) throw new GgufError(`metadata "${key}": the string holds a lone UTF-16 surrogate, which UTF-8 cannot carry`);
}

/** Whether a string is valid Unicode (no lone surrogates), so it round-trips through UTF-8. */
function isWellFormed(s: string): boolean {
  if (typeof s !== 'string') return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = s.charCodeAt(i + 1);
      if (!(d >= 0xdc00 && d <= 0xdfff)) return false;
      i++;
    } else if (c >= 0xdc00 && c <= 0xdfff) return false;
  }
  return true;
}

function scalar(o: Out, type: GgufScalarType, v: number | bigint | boolean | string): void {
  switch (type) {
    case 'u8': return o.u8(v as number);
    case 'i8': return o.i8(v as number);
    case 'u16': return o.u16(v as number);
    case 'i16': return o.i16(v as number);
    case 'u32': return o.u32(v as number);
    case 'i32': return o.i32(v as number);
    case 'f32': return o.f32(v as number);
    case 'f64': return o.f64(v as number);
    case 'u64': return o.u64(v as bigint | number);
    case 'i64': return o.i64(v as bigint | number);
    case 'bool': return o.u8(v ? 1 : 0);
    case 'string': return o.str(v as string);
  }
}

/**
 * One GGUF file from metadata (in the order given) and tensors (laid out in the order
 * given). The alignment is `general.alignment` when the metadata has it (a u32 power of
 * two), else 32, and is then not written (as gguf-py does for the default).
 */
export function writeGguf(kv: readonly (readonly [string, GgufValue])[], tensors: readonly GgufTensor[]): Uint8Array {
  const keys = new Set<string>();
  let alignment = GGUF_DEFAULT_ALIGNMENT;
  for (const [key, v] of kv) {
    if (typeof key !== 'string' || !key || keys.has(key)) throw new GgufError(`metadata key ${JSON.stringify(String(key))} is not text, is empty or is repeated`);
    if (!isWellFormed(key)) throw new GgufError(`metadata key "${key}" holds a lone UTF-16 surrogate, which UTF-8 cannot carry`);
    if (typeof v !== 'object' || v === null || !Object.hasOwn(GGUF_VALUE_TYPE, v.type) || (v.type === 'array' && (!Object.hasOwn(GGUF_VALUE_TYPE, v.of) || (v.of as string) === 'array' || !Array.isArray(v.value)))) {
      throw new GgufError(`metadata "${key}": not a value of a GGUF type (${Object.keys(GGUF_VALUE_TYPE).join(', ')})`);
    }
    keys.add(key);
    if (v.type === 'array') {
      if (v.of === 'bool' || v.of === 'string') for (const x of v.value) checkNumber(key, v.of, x);
      else for (const x of v.value) checkNumber(key, v.of, x);
    } else checkNumber(key, v.type, v.value);
    if (key === 'general.alignment') {
      if (v.type !== 'u32' || v.value <= 0 || v.value > GGUF_MAX_ALIGNMENT || (v.value & (v.value - 1)) !== 0) throw new GgufError(`general.alignment must be a u32 power of two up to ${GGUF_MAX_ALIGNMENT} (GGUF_MAX_ALIGNMENT)`);
      alignment = v.value;
    }
  }
  const names = new Set<string>();
  for (const t of tensors) {
    if (typeof t.name !== 'string') throw new GgufError(`a tensor name is not text`);
    const bytes = new TextEncoder().encode(t.name).length;
    if (!t.name || bytes > GGUF_MAX_NAME || !isWellFormed(t.name)) throw new GgufError(`tensor name "${t.name}" must be 1 to ${GGUF_MAX_NAME} bytes of valid text`);
    if (typeof t.type !== 'string' || !Object.hasOwn(GGML_TYPE, t.type)) throw new GgufError(`tensor "${t.name}": its type is not one of ${Object.keys(GGML_TYPE).join(', ')}`);
    if (names.has(t.name)) throw new GgufError(`tensor "${t.name}" is given twice`);
    names.add(t.name);
    if (!Array.isArray(t.shape) || t.shape.length < 1 || t.shape.length > GGUF_MAX_DIMS || !t.shape.every((d) => Number.isSafeInteger(d) && d > 0)) throw new GgufError(`tensor "${t.name}": shape [${t.shape}] must have 1 to ${GGUF_MAX_DIMS} positive dims`);
    const n = t.shape.reduce((a, d) => a * d, 1);
    const okArray = t.type === 'F32' ? t.data instanceof Float32Array : t.data instanceof Uint16Array;
    const want = t.type === 'F32' ? 'Float32Array' : 'Uint16Array';
    if (!okArray) throw new GgufError(`tensor "${t.name}": ${t.type} data must be a ${want}`);
    if (t.data.length !== n) throw new GgufError(`tensor "${t.name}": ${t.type}[${t.shape}] needs ${n} values, got ${t.data.length}`);
  }

  const o = new Out();
  o.u32(GGUF_MAGIC);
  o.u32(GGUF_VERSION);
  o.u64(tensors.length);
  o.u64(kv.length);
  for (const [key, v] of kv) {
    o.str(key);
    o.u32(GGUF_VALUE_TYPE[v.type]);
    if (v.type === 'array') {
      o.u32(GGUF_VALUE_TYPE[v.of]);
      o.u64(v.value.length);
      for (const x of v.value) scalar(o, v.of, x);
    } else scalar(o, v.type, v.value);
  }
  let offset = 0;
  const offsets: number[] = [];
  for (const t of tensors) {
    o.str(t.name);
    o.u32(t.shape.length);
    for (let i = t.shape.length - 1; i >= 0; i--) o.u64(t.shape[i]);
    o.u32(GGML_TYPE[t.type]);
    o.u64(offset);
    offsets.push(offset);
    const nbytes = t.data.length * ELEMENT_BYTES[t.type];
    offset += nbytes + ((alignment - (nbytes % alignment)) % alignment);
  }
  o.pad(alignment);
  const dataStart = o.length;
  for (const [i, t] of tensors.entries()) {
    o.pad(alignment);
    if (o.length - dataStart !== offsets[i]) throw new Error(`gguf: tensor "${t.name}" lands at ${o.length - dataStart}, not ${offsets[i]}`);
    const le = new Uint8Array(t.data.byteLength);
    const lv = new DataView(le.buffer);
    if (t.data instanceof Float32Array) for (let j = 0; j < t.data.length; j++) lv.setFloat32(j * 4, t.data[j], true);
    else for (let j = 0; j < t.data.length; j++) lv.setUint16(j * 2, t.data[j], true);
    o.bytes(le);
  }
  o.pad(alignment);
  return o.result();
}

/** One tensor of a file written in pieces: its ggml type code and byte count, data later. */
export interface GgufTensorInfo {
  name: string;
  /** ggml_type code (any: quantized types too; the caller supplies the bytes). */
  ggmlType: number;
  /** PyTorch order (outermost first); written reversed as ggml's ne. */
  shape: readonly number[];
  /** Bytes of the tensor's data. */
  bytes: number;
}

/**
 * The header of a GGUF file (everything before the first tensor's data, padded to the
 * alignment) for tensors whose data the caller then writes in order, each followed by
 * zero padding to the alignment (`padding(bytes)`), so that a large model never has to be
 * in memory at once. Same rules and checks as writeGguf.
 */
export function writeGgufHeader(kv: readonly (readonly [string, GgufValue])[], infos: readonly GgufTensorInfo[]): { header: Uint8Array; alignment: number; padding(bytes: number): number } {
  // Metadata checks and layout through writeGguf with no tensors, then the tensor infos.
  const meta = writeGguf(kv, []);
  const al = kv.find(([k]) => k === 'general.alignment')?.[1];
  const alignment = al && al.type === 'u32' ? al.value : GGUF_DEFAULT_ALIGNMENT;
  const names = new Set<string>();
  for (const t of infos) {
    const bytes = new TextEncoder().encode(t.name).length;
    if (!t.name || bytes > GGUF_MAX_NAME) throw new GgufError(`tensor name "${t.name}" must be 1 to ${GGUF_MAX_NAME} bytes`);
    if (names.has(t.name)) throw new GgufError(`tensor "${t.name}" is given twice`);
    names.add(t.name);
    if (t.shape.length < 1 || t.shape.length > GGUF_MAX_DIMS || !t.shape.every((d) => Number.isInteger(d) && d > 0)) throw new GgufError(`tensor "${t.name}": shape [${t.shape}] must have 1 to ${GGUF_MAX_DIMS} positive dims`);
    if (!Number.isInteger(t.ggmlType) || t.ggmlType < 0 || !Number.isSafeInteger(t.bytes) || t.bytes <= 0) throw new GgufError(`tensor "${t.name}": type ${t.ggmlType} with ${t.bytes} bytes`);
  }
  const o = new Out();
  // magic, version, tensor count (patched), KV count and the KV pairs: the metadata-only file minus its padding.
  const metaEnd = metaLength(meta);
  o.bytes(meta.subarray(0, metaEnd));
  const pad = (n: number) => (alignment - (n % alignment)) % alignment;
  let offset = 0;
  for (const t of infos) {
    o.str(t.name);
    o.u32(t.shape.length);
    for (let i = t.shape.length - 1; i >= 0; i--) o.u64(t.shape[i]);
    o.u32(t.ggmlType);
    o.u64(offset);
    offset += t.bytes + pad(t.bytes);
  }
  o.pad(alignment);
  const header = o.result();
  new DataView(header.buffer).setBigUint64(8, BigInt(infos.length), true);
  return { header, alignment, padding: pad };
}

/** Length of a tensor-less GGUF's header before its trailing padding. */
function metaLength(file: Uint8Array): number {
  const dv = new DataView(file.buffer, file.byteOffset, file.byteLength);
  let at = 24;
  const nKv = Number(dv.getBigUint64(16, true));
  const skipValue = (type: number): void => {
    const size: Record<number, number> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };
    if (type === GGUF_VALUE_TYPE.string) at += 8 + Number(dv.getBigUint64(at, true));
    else if (type === GGUF_VALUE_TYPE.array) {
      const of = dv.getUint32(at, true);
      const n = Number(dv.getBigUint64(at + 4, true));
      at += 12;
      for (let i = 0; i < n; i++) skipValue(of);
    } else at += size[type];
  };
  for (let i = 0; i < nKv; i++) {
    at += 8 + Number(dv.getBigUint64(at, true));
    const type = dv.getUint32(at, true);
    at += 4;
    skipValue(type);
  }
  return at;
}
