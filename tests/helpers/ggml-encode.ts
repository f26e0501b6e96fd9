// Reference encoders of ggml's K-quant blocks for the tests, written from the block
// definitions in ggml-common.h (not from ggml's optimising quantizers: plain min/max scales,
// which any reader must decode the same way). Plus a GGUF re-typer: a GGUF file's 2-D
// tensors re-encoded into chosen types, to make one test file per tensor type.

import { writeGgufHeader, type GgufValue } from '../../src/engine/export/gguf.ts';
import { openGguf, readGgufTensorBytes, type GgufMetaValue } from '../../src/engine/io/gguf-read.ts';
import { bytesSource } from '../../src/engine/io/bytes.ts';
import { f32ToF16, f16ToF32 } from '../../src/engine/quant/block.ts';
import { GGML, ggmlToF32, quantizeQ4_0, quantizeQ8_0 } from '../../src/engine/quant/ggml.ts';

const f = Math.fround;
const h16 = (x: number) => f32ToF16(x);

/** Q4_K (qi = 4, levels 0..15) and Q5_K (levels 0..31) blocks of 256: 8 sub-blocks of 32 with 6-bit scale and min. */
function encodeK45(x: Float32Array, five: boolean): Uint8Array {
  const size = five ? 176 : 144;
  const top = five ? 31 : 15;
  const out = new Uint8Array((x.length / 256) * size);
  const dv = new DataView(out.buffer);
  for (let blk = 0; blk < x.length / 256; blk++) {
    const at = blk * size;
    const v = x.subarray(blk * 256, blk * 256 + 256);
    const scale: number[] = [];
    const mins: number[] = [];
    for (let j = 0; j < 8; j++) {
      let mn = 0, mx = 0;
      for (let l = 0; l < 32; l++) (mn = Math.min(mn, v[32 * j + l])), (mx = Math.max(mx, v[32 * j + l]));
      scale.push((mx - mn) / top);
      mins.push(-mn);
    }
    const dBits = h16(Math.max(...scale) / 63);
    const mBits = h16(Math.max(...mins) / 63);
    const d = f16ToF32(dBits), dmin = f16ToF32(mBits);
    dv.setUint16(at, dBits, true);
    dv.setUint16(at + 2, mBits, true);
    const ls = scale.map((s) => (d ? Math.min(63, Math.round(s / d)) : 0));
    const lm = mins.map((m) => (dmin ? Math.min(63, Math.round(m / dmin)) : 0));
    const sc = at + 4;
    for (let j = 0; j < 4; j++) (out[sc + j] = ls[j]), (out[sc + j + 4] = lm[j]);
    for (let j = 4; j < 8; j++) {
      out[sc + j + 4] = (ls[j] & 15) | ((lm[j] & 15) << 4);
      out[sc + j - 4] |= (ls[j] >> 4) << 6;
      out[sc + j] |= (lm[j] >> 4) << 6;
    }
    const q = new Uint8Array(256);
    for (let j = 0; j < 8; j++) {
      const dd = f(d * ls[j]), mm = f(dmin * lm[j]);
      for (let l = 0; l < 32; l++) q[32 * j + l] = dd ? Math.max(0, Math.min(top, Math.round((v[32 * j + l] + mm) / dd))) : 0;
    }
    const qh = at + 16;
    const qs = at + (five ? 48 : 16);
    for (let p = 0; p < 4; p++)
      for (let l = 0; l < 32; l++) {
        const lo = q[64 * p + l], hi = q[64 * p + 32 + l];
        out[qs + 32 * p + l] = (lo & 15) | ((hi & 15) << 4);
        if (five) out[qh + l] |= (((lo >> 4) & 1) << (2 * p)) | (((hi >> 4) & 1) << (2 * p + 1));
      }
  }
  return out;
}

/** Q6_K blocks of 256: 16 sub-blocks of 16 with int8 scales, 6-bit values − 32. */
function encodeQ6K(x: Float32Array): Uint8Array {
  const out = new Uint8Array((x.length / 256) * 210);
  const dv = new DataView(out.buffer);
  for (let blk = 0; blk < x.length / 256; blk++) {
    const at = blk * 210;
    const v = x.subarray(blk * 256, blk * 256 + 256);
    const sub: number[] = [];
    for (let i = 0; i < 16; i++) {
      let a = 0;
      for (let l = 0; l < 16; l++) a = Math.max(a, Math.abs(v[16 * i + l]));
      sub.push(a / 31);
    }
    const dBits = h16(Math.max(...sub) / 127);
    const d = f16ToF32(dBits);
    dv.setUint16(at + 208, dBits, true);
    const ls = sub.map((s) => (d ? Math.min(127, Math.round(s / d)) : 0));
    ls.forEach((s, i) => dv.setInt8(at + 192 + i, s));
    const L = new Uint8Array(256);
    for (let i = 0; i < 16; i++) {
      const dd = f(d * ls[i]);
      for (let l = 0; l < 16; l++) L[16 * i + l] = (dd ? Math.max(-32, Math.min(31, Math.round(v[16 * i + l] / dd))) : 0) + 32;
    }
    for (let half = 0; half < 2; half++) {
      const j = 128 * half, ql = at + 64 * half, qh = at + 128 + 32 * half;
      for (let l = 0; l < 32; l++) {
        out[ql + l] = (L[j + l] & 15) | ((L[j + l + 64] & 15) << 4);
        out[ql + l + 32] = (L[j + l + 32] & 15) | ((L[j + l + 96] & 15) << 4);
        out[qh + l] = (L[j + l] >> 4) | ((L[j + l + 32] >> 4) << 2) | ((L[j + l + 64] >> 4) << 4) | ((L[j + l + 96] >> 4) << 6);
      }
    }
  }
  return out;
}

function bf16(x: Float32Array): Uint8Array {
  const out = new Uint8Array(x.length * 2);
  const u = new Uint32Array(x.buffer, x.byteOffset, x.length);
  for (let i = 0; i < x.length; i++) {
    const b = u[i];
    const r = (b + 0x7fff + ((b >> 16) & 1)) >>> 16; // round to nearest even
    out[2 * i] = r & 0xff;
    out[2 * i + 1] = r >> 8;
  }
  return out;
}

export function encodeAs(type: number, x: Float32Array): Uint8Array {
  switch (type) {
    case GGML.F32: return new Uint8Array(x.buffer.slice(x.byteOffset, x.byteOffset + x.byteLength));
    case GGML.F16: {
      const out = new Uint8Array(x.length * 2);
      const dv = new DataView(out.buffer);
      x.forEach((v, i) => dv.setUint16(2 * i, f32ToF16(v), true));
      return out;
    }
    case GGML.BF16: return bf16(x);
    case GGML.Q8_0: return quantizeQ8_0(x);
    case GGML.Q4_0: return quantizeQ4_0(x);
    case GGML.Q4_K: return encodeK45(x, false);
    case GGML.Q5_K: return encodeK45(x, true);
    case GGML.Q6_K: return encodeQ6K(x);
  }
  throw new Error(`no encoder for type ${type}`);
}

function metaValue(v: GgufMetaValue, key: string, types: Map<string, number>): GgufValue {
  const t = types.get(key);
  if (typeof v === 'string') return { type: 'string', value: v };
  if (typeof v === 'boolean') return { type: 'bool', value: v };
  if (typeof v === 'bigint') return { type: 'u64', value: v };
  if (Array.isArray(v)) {
    if (typeof v[0] === 'string') return { type: 'array', of: 'string', value: v as string[] };
    return { type: 'array', of: t === 5 ? 'i32' : 'f32', value: v as number[] };
  }
  return { type: t === 6 ? 'f32' : 'u32', value: v };
}

/**
 * `src` (an F32 GGUF model) with every 2-D tensor re-encoded by `pick(name, cols)`
 * (a ggml type, or undefined to keep F32). Metadata kept (numbers: f32 where llama.cpp
 * reads floats, else u32; token_type i32).
 */
export async function retypeGguf(src: Uint8Array, pick: (name: string, cols: number) => number | undefined, fileType: number): Promise<Uint8Array> {
  const g = await openGguf(bytesSource(src, 'src.gguf'));
  const floatKeys = /(epsilon|freq_base|scaling\.factor)$/;
  const kv: [string, GgufValue][] = [];
  for (const [k, v] of g.metadata) {
    if (k === 'general.file_type') kv.push([k, { type: 'u32', value: fileType }]);
    else if (k === 'tokenizer.ggml.scores') kv.push([k, { type: 'array', of: 'f32', value: v as number[] }]);
    else if (k === 'tokenizer.ggml.token_type') kv.push([k, { type: 'array', of: 'i32', value: v as number[] }]);
    else kv.push([k, metaValue(v, k, new Map([[k, floatKeys.test(k) ? 6 : 4]]))]);
  }
  const parts: { name: string; shape: number[]; type: number; data: Uint8Array }[] = [];
  for (const t of g.tensors.values()) {
    const x = ggmlToF32(t.type, await readGgufTensorBytes(g, t.name), t.shape.reduce((a, b) => a * b, 1));
    const type = t.shape.length === 2 ? (pick(t.name, t.shape[1]) ?? GGML.F32) : GGML.F32;
    parts.push({ name: t.name, shape: t.shape, type, data: encodeAs(type, x) });
  }
  const { header, padding } = writeGgufHeader(kv, parts.map((p) => ({ name: p.name, ggmlType: p.type, shape: p.shape, bytes: p.data.length })));
  const chunks = [header];
  for (const p of parts) chunks.push(p.data, new Uint8Array(padding(p.data.length)));
  const out = new Uint8Array(chunks.reduce((a, c) => a + c.length, 0));
  let at = 0;
  for (const c of chunks) (out.set(c, at), (at += c.length));
  return out;
}
