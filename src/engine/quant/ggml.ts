// ggml's tensor types as GGUF files hold them (ggml/src/ggml-common.h block definitions,
// ggml/src/ggml-quants.c reference rows), decoded to f32 on the host, the 32-blocks
// re-packed into the engine's q8 / q4 layout (quant/block.ts) bit for bit, and the two
// 32-block quantizers the merged-model export writes. All little-endian.
//
//   F32  0   4 bytes per value
//   F16  1   2 bytes (IEEE half)
//   BF16 30  2 bytes (the high half of an f32)
//   Q4_0 2   32 values in 18 bytes: f16 d, qs[16]; value j (0..15) = d·((qs[j] & 15) − 8),
//            value j + 16 = d·((qs[j] >> 4) − 8).
//            quantize: m = the value of largest magnitude (first one on ties), d = m / −8,
//            q = min(15, trunc(x/d + 8.5)) (trunc of a value ≥ 0 after +8.5 is floor).
//   Q8_0 8   32 values in 34 bytes: f16 d, int8 qs[32]; value j = d·qs[j].
//            quantize: d = amax / 127, q = roundf(x / d) (half away from zero).
//   Q4_K 12  256 values in 144 bytes: f16 d, f16 dmin, scales[12] (8 6-bit scales and 8
//            6-bit mins), qs[128]. Sub-block i (32 values) has scale sc_i and min m_i:
//            i < 4: sc = scales[i] & 63, m = scales[i+4] & 63;
//            else  sc = (scales[i+4] & 15) | ((scales[i−4] >> 6) << 4),
//                  m  = (scales[i+4] >> 4) | ((scales[i] >> 6) << 4).
//            Pairs of sub-blocks (2p, 2p+1) share qs[32p .. 32p+32): low nibbles for 2p,
//            high for 2p+1; value = d·sc·q − dmin·m.
//   Q5_K 13  256 values in 176 bytes: f16 d, f16 dmin, scales[12] (as Q4_K), qh[32],
//            qs[128]; as Q4_K with a fifth bit: sub-block 2p takes bit 2p of qh[l], 2p+1
//            bit 2p+1, adding 16 to the nibble.
//   Q6_K 14  256 values in 210 bytes: ql[128], qh[64], int8 scales[16], f16 d. Per half
//            of 128 values (ql advances 64, qh 32, scales 8): for l < 32, with is = l/16,
//            q1 = (ql[l] & 15 | ((qh[l] >> 0) & 3) << 4) − 32 → y[l]      · sc[is]
//            q2 = (ql[l+32] & 15 | ((qh[l] >> 2) & 3) << 4) − 32 → y[l+32] · sc[is+2]
//            q3 = (ql[l] >> 4 | ((qh[l] >> 4) & 3) << 4) − 32 → y[l+64]    · sc[is+4]
//            q4 = (ql[l+32] >> 4 | ((qh[l] >> 6) & 3) << 4) − 32 → y[l+96] · sc[is+6], times d.
// The K-quants have no engine block format: they are decoded to f32 on load (and then
// re-quantized to the precision asked for, with the error that brings; the loader says so).

import { f16ToF32 } from '../io/safetensors.ts';
import { allocQuantHost, f32ToF16, type QuantTensor } from './block.ts';

export interface GgmlTypeInfo {
  name: string;
  /** Values per block. */
  block: number;
  /** Bytes per block. */
  bytes: number;
}

/** The ggml types this engine reads, by ggml_type code. */
export const GGML_TYPES: ReadonlyMap<number, GgmlTypeInfo> = new Map([
  [0, { name: 'F32', block: 1, bytes: 4 }],
  [1, { name: 'F16', block: 1, bytes: 2 }],
  [2, { name: 'Q4_0', block: 32, bytes: 18 }],
  [8, { name: 'Q8_0', block: 32, bytes: 34 }],
  [12, { name: 'Q4_K', block: 256, bytes: 144 }],
  [13, { name: 'Q5_K', block: 256, bytes: 176 }],
  [14, { name: 'Q6_K', block: 256, bytes: 210 }],
  [30, { name: 'BF16', block: 1, bytes: 2 }],
]);

/** Names of ggml types this engine does not read (for errors). */
export const GGML_TYPE_NAMES: Record<number, string> = {
  3: 'Q4_1', 6: 'Q5_0', 7: 'Q5_1', 9: 'Q8_1', 10: 'Q2_K', 11: 'Q3_K', 15: 'Q8_K', 16: 'IQ2_XXS', 17: 'IQ2_XS', 18: 'IQ3_XXS',
  19: 'IQ1_S', 20: 'IQ4_NL', 21: 'IQ3_S', 22: 'IQ2_S', 23: 'IQ4_XS', 24: 'I8', 25: 'I16', 26: 'I32', 27: 'I64', 28: 'F64', 29: 'IQ1_M',
  34: 'TQ1_0', 35: 'TQ2_0', 39: 'MXFP4',
};

export const GGML = { F32: 0, F16: 1, Q4_0: 2, Q8_0: 8, Q4_K: 12, Q5_K: 13, Q6_K: 14, BF16: 30 } as const;

export function ggmlTypeName(code: number): string {
  return GGML_TYPES.get(code)?.name ?? GGML_TYPE_NAMES[code] ?? `type ${code}`;
}

/** Bytes of `n` values of ggml type `code` (n a multiple of the block). */
export function ggmlBytes(code: number, n: number): number {
  const t = GGML_TYPES.get(code);
  if (!t) throw new RangeError(`ggml ${ggmlTypeName(code)} is not read here`);
  if (n % t.block !== 0) throw new RangeError(`${n} values are not whole ${t.name} blocks of ${t.block}`);
  return (n / t.block) * t.bytes;
}

function bf16ToF32(h: number): number {
  const f = new Float32Array(new Uint32Array([h << 16]).buffer);
  return f[0];
}

/** The scale and min of sub-block j (0..7) of a Q4_K / Q5_K block's 12 scale bytes at s. */
function scaleMinK4(b: Uint8Array, s: number, j: number): [number, number] {
  if (j < 4) return [b[s + j] & 63, b[s + j + 4] & 63];
  return [(b[s + j + 4] & 0xf) | ((b[s + j - 4] >> 6) << 4), (b[s + j + 4] >> 4) | ((b[s + j] >> 6) << 4)];
}

/**
 * `n` values of ggml type `code` from `b` (little-endian, starting at byte 0) as f32.
 * Arithmetic in f32 (Math.fround), as ggml's reference dequantizers do it.
 */
export function ggmlToF32(code: number, b: Uint8Array, n: number): Float32Array {
  const need = ggmlBytes(code, n);
  if (b.length < need) throw new RangeError(`${n} ${ggmlTypeName(code)} values need ${need} bytes, got ${b.length}`);
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const out = new Float32Array(n);
  const h = (at: number) => f16ToF32(dv.getUint16(at, true));
  const f = Math.fround;
  switch (code) {
    case GGML.F32:
      for (let i = 0; i < n; i++) out[i] = dv.getFloat32(4 * i, true);
      return out;
    case GGML.F16:
      for (let i = 0; i < n; i++) out[i] = h(2 * i);
      return out;
    case GGML.BF16:
      for (let i = 0; i < n; i++) out[i] = bf16ToF32(dv.getUint16(2 * i, true));
      return out;
    case GGML.Q8_0:
      for (let blk = 0; blk < n / 32; blk++) {
        const at = blk * 34;
        const d = h(at);
        for (let j = 0; j < 32; j++) out[blk * 32 + j] = f(d * dv.getInt8(at + 2 + j));
      }
      return out;
    case GGML.Q4_0:
      for (let blk = 0; blk < n / 32; blk++) {
        const at = blk * 18;
        const d = h(at);
        for (let j = 0; j < 16; j++) {
          const q = b[at + 2 + j];
          out[blk * 32 + j] = f(d * ((q & 15) - 8));
          out[blk * 32 + j + 16] = f(d * ((q >> 4) - 8));
        }
      }
      return out;
    case GGML.Q4_K:
    case GGML.Q5_K: {
      const five = code === GGML.Q5_K;
      const size = five ? 176 : 144;
      for (let blk = 0; blk < n / 256; blk++) {
        const at = blk * size;
        const d = h(at);
        const dmin = h(at + 2);
        const qh = at + 16; // Q5_K only
        const qs = at + (five ? 48 : 16);
        let y = blk * 256;
        for (let p = 0; p < 4; p++) {
          const [sc1, m1] = scaleMinK4(b, at + 4, 2 * p);
          const [sc2, m2] = scaleMinK4(b, at + 4, 2 * p + 1);
          const d1 = f(d * sc1), mm1 = f(dmin * m1), d2 = f(d * sc2), mm2 = f(dmin * m2);
          for (let l = 0; l < 32; l++) {
            const hi = five && b[qh + l] & (1 << (2 * p)) ? 16 : 0;
            out[y++] = f(f(d1 * ((b[qs + 32 * p + l] & 15) + hi)) - mm1);
          }
          for (let l = 0; l < 32; l++) {
            const hi = five && b[qh + l] & (2 << (2 * p)) ? 16 : 0;
            out[y++] = f(f(d2 * ((b[qs + 32 * p + l] >> 4) + hi)) - mm2);
          }
        }
      }
      return out;
    }
    case GGML.Q6_K:
      for (let blk = 0; blk < n / 256; blk++) {
        const at = blk * 210;
        const d = h(at + 208);
        for (let half = 0; half < 2; half++) {
          const ql = at + 64 * half;
          const qh = at + 128 + 32 * half;
          const sc = at + 192 + 8 * half;
          const y = blk * 256 + 128 * half;
          for (let l = 0; l < 32; l++) {
            const is = l >> 4;
            const q1 = ((b[ql + l] & 15) | (((b[qh + l] >> 0) & 3) << 4)) - 32;
            const q2 = ((b[ql + l + 32] & 15) | (((b[qh + l] >> 2) & 3) << 4)) - 32;
            const q3 = ((b[ql + l] >> 4) | (((b[qh + l] >> 4) & 3) << 4)) - 32;
            const q4 = ((b[ql + l + 32] >> 4) | (((b[qh + l] >> 6) & 3) << 4)) - 32;
            out[y + l] = f(f(d * dv.getInt8(sc + is)) * q1);
            out[y + l + 32] = f(f(d * dv.getInt8(sc + is + 2)) * q2);
            out[y + l + 64] = f(f(d * dv.getInt8(sc + is + 4)) * q3);
            out[y + l + 96] = f(f(d * dv.getInt8(sc + is + 6)) * q4);
          }
        }
      }
      return out;
  }
  throw new RangeError(`ggml ${ggmlTypeName(code)} is not read here`);
}

/**
 * A ggml Q8_0 or Q4_0 (N, K) weight (K a multiple of 32) as the engine's q8 / q4 blocks,
 * without re-quantizing: the same f16 scale and the same codes, re-packed. The engine's
 * q8 decodes d·int8 and q4 d·(code − 8), as ggml does.
 */
export function ggmlToEngineBlocks(code: number, b: Uint8Array, N: number, K: number): QuantTensor {
  if (K % 32 !== 0) throw new RangeError(`a ${ggmlTypeName(code)} row of ${K} values is not whole 32-blocks`);
  const fmt = code === GGML.Q8_0 ? 'q8' : code === GGML.Q4_0 ? 'q4' : undefined;
  if (!fmt) throw new RangeError(`ggml ${ggmlTypeName(code)} has no engine block format`);
  const need = ggmlBytes(code, N * K);
  if (b.length < need) throw new RangeError(`${N}×${K} ${ggmlTypeName(code)} needs ${need} bytes, got ${b.length}`);
  const q = allocQuantHost(fmt, N, K);
  const blocks = (N * K) / 32;
  for (let s = 0; s < blocks; s++) {
    if (fmt === 'q8') {
      const at = s * 34;
      q.scales[s >> 1] |= (b[at] | (b[at + 1] << 8)) << (16 * (s & 1));
      for (let w = 0; w < 8; w++) q.codes[s * 8 + w] = (b[at + 2 + 4 * w] | (b[at + 3 + 4 * w] << 8) | (b[at + 4 + 4 * w] << 16) | (b[at + 5 + 4 * w] << 24)) >>> 0;
    } else {
      const at = s * 18;
      q.scales[s >> 1] |= (b[at] | (b[at + 1] << 8)) << (16 * (s & 1));
      for (let j = 0; j < 32; j++) {
        const byte = b[at + 2 + (j & 15)];
        const nib = j < 16 ? byte & 15 : byte >> 4;
        q.codes[s * 4 + (j >> 3)] |= nib << (4 * (j & 7));
      }
    }
  }
  for (let i = 0; i < q.scales.length; i++) q.scales[i] >>>= 0;
  for (let i = 0; i < q.codes.length; i++) q.codes[i] >>>= 0;
  return q;
}

/** f32 values (a multiple of 32 of them) as ggml Q8_0 blocks, by ggml's reference rule. */
export function quantizeQ8_0(x: ArrayLike<number>): Uint8Array {
  if (x.length % 32 !== 0) throw new RangeError(`Q8_0 needs a multiple of 32 values, got ${x.length}`);
  const out = new Uint8Array((x.length / 32) * 34);
  const dv = new DataView(out.buffer);
  const f = Math.fround;
  for (let blk = 0; blk < x.length / 32; blk++) {
    let amax = 0;
    for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(f(x[blk * 32 + j])));
    const d = f(amax / 127);
    const id = d ? f(1 / d) : 0;
    dv.setUint16(blk * 34, f32ToF16(d), true);
    for (let j = 0; j < 32; j++) {
      const v = f(f(x[blk * 32 + j]) * id);
      dv.setInt8(blk * 34 + 2 + j, Math.sign(v) * Math.round(Math.abs(v))); // roundf: half away from zero
    }
  }
  return out;
}

/** f32 values (a multiple of 32 of them) as ggml Q4_0 blocks, by ggml's reference rule. */
export function quantizeQ4_0(x: ArrayLike<number>): Uint8Array {
  if (x.length % 32 !== 0) throw new RangeError(`Q4_0 needs a multiple of 32 values, got ${x.length}`);
  const out = new Uint8Array((x.length / 32) * 18);
  const dv = new DataView(out.buffer);
  const f = Math.fround;
  for (let blk = 0; blk < x.length / 32; blk++) {
    let amax = 0;
    let max = 0;
    for (let j = 0; j < 32; j++) {
      const v = f(x[blk * 32 + j]);
      if (amax < Math.abs(v)) {
        amax = Math.abs(v);
        max = v;
      }
    }
    const d = f(max / -8);
    const id = d ? f(1 / d) : 0;
    dv.setUint16(blk * 18, f32ToF16(d), true);
    for (let j = 0; j < 16; j++) {
      const q0 = Math.min(15, Math.trunc(f(f(f(x[blk * 32 + j]) * id) + 8.5)));
      const q1 = Math.min(15, Math.trunc(f(f(f(x[blk * 32 + 16 + j]) * id) + 8.5)));
      out[blk * 18 + 2 + j] = q0 | (q1 << 4);
    }
  }
  return out;
}
