// Block quantization of a weight W: (N, K), row-major, quantized along K in blocks of 32.
// The last block of a row is zero-padded when K % 32 != 0 (padding codes decode to 0).
// This file defines the formats; the GPU kernels (shaders/quant.wgsl, qmatmul.wgsl) read
// exactly this layout. KB = ceil(K / 32) blocks per row.
//
//   q8   scale d = absmax / 127 (rounded to f16), code q = clamp(round(x / d), −127, 127)
//        as int8; 4 codes per u32, element 4w + j in byte j (little-endian).   8 u32 / block
//   q4   d = absmax / 7 (f16), q = clamp(round(x / d), −7, 7) stored as q + 8 in 4 bits;
//        8 codes per u32, element 8w + j in bits 4j..4j+3.                     4 u32 / block
//   nf4  d = absmax (f16), q = index of the NormalFloat4 value nearest x / d (QLoRA's
//        16-value codebook); packed like q4.                                   4 u32 / block
//   scales: one f16 per block in block order (row n, block b → n·KB + b), two per u32,
//        the even index in the low half. Bits per weight: q8 8.5, q4 and nf4 4.5.
// round() is half away from zero; a block of zeros has d = 0 and all codes 0.

import { f16ToF32 } from '../io/safetensors.ts';

export const QUANT_FORMATS = ['q8', 'q4', 'nf4'] as const;
export type QuantFormat = (typeof QUANT_FORMATS)[number];
export const QBLOCK = 32;

/** QLoRA's NormalFloat4 codebook (Dettmers et al. 2023, appendix E). */
export const NF4_CODEBOOK = Float32Array.from([
  -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635, -0.18477343022823334,
  -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
  0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0,
]);

export interface QuantTensor {
  format: QuantFormat;
  N: number;
  K: number;
  /** (N, KB · wordsPerBlock) */
  codes: Uint32Array;
  /** f16 bits, N · KB values padded to even length (so it views as u32 for the GPU). */
  scales: Uint16Array;
}

export function wordsPerBlock(f: QuantFormat): number {
  return f === 'q8' ? 8 : 4;
}

export function blocksPerRow(K: number): number {
  return Math.ceil(K / QBLOCK);
}

/** Bytes on the GPU for an (N, K) weight in format f (codes + scales). */
export function quantBytes(N: number, K: number, f: QuantFormat): number {
  const blocks = N * blocksPerRow(K);
  return blocks * wordsPerBlock(f) * 4 + Math.ceil(blocks / 2) * 4;
}

const f32buf = new Float32Array(1);
const u32buf = new Uint32Array(f32buf.buffer);

/** f32 → f16 bits, round to nearest even (finite inputs; overflow saturates to ±inf). */
export function f32ToF16(x: number): number {
  f32buf[0] = x;
  const b = u32buf[0];
  const sign = (b >>> 16) & 0x8000;
  const e = (b >>> 23) & 0xff;
  let m = b & 0x7fffff;
  if (e === 0xff) return sign | 0x7c00 | (m ? 0x200 : 0);
  let exp = e - 127 + 15;
  if (exp >= 31) return sign | 0x7c00;
  if (exp <= 0) {
    if (exp < -10) return sign;
    m |= 0x800000;
    const shift = 14 - exp;
    const half = 1 << (shift - 1);
    let r = m >>> shift;
    const rest = m & ((1 << shift) - 1);
    if (rest > half || (rest === half && r & 1)) r++;
    return sign | r;
  }
  let r = m >>> 13;
  const rest = m & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && r & 1)) r++;
  if (r === 0x400) {
    r = 0;
    exp++;
    if (exp >= 31) return sign | 0x7c00;
  }
  return sign | (exp << 10) | r;
}

const roundAway = (v: number) => Math.sign(v) * Math.floor(Math.abs(v) + 0.5);

function nf4Index(v: number): number {
  let best = 0;
  for (let i = 1; i < 16; i++) if (Math.abs(NF4_CODEBOOK[i] - v) < Math.abs(NF4_CODEBOOK[best] - v)) best = i;
  return best;
}

/**
 * Quantize rows [0, N) of `src` (N·K values, row-major) into format f. A loader streams a
 * tensor by calling this on row ranges and concatenating codes and scales.
 */
export function quantize(src: ArrayLike<number>, N: number, K: number, f: QuantFormat): QuantTensor {
  const KB = blocksPerRow(K);
  const wpb = wordsPerBlock(f);
  const codes = new Uint32Array(N * KB * wpb);
  const scales = new Uint16Array(N * KB + ((N * KB) % 2));
  const maxq = f === 'q8' ? 127 : 7;
  for (let n = 0; n < N; n++) {
    for (let b = 0; b < KB; b++) {
      let amax = 0;
      for (let j = 0; j < QBLOCK; j++) {
        const k = b * QBLOCK + j;
        if (k < K) amax = Math.max(amax, Math.abs(src[n * K + k]));
      }
      const h = f32ToF16(f === 'nf4' ? amax : Math.fround(amax / maxq));
      scales[n * KB + b] = h;
      const d = f16ToF32(h);
      const base = (n * KB + b) * wpb;
      for (let j = 0; j < QBLOCK; j++) {
        const k = b * QBLOCK + j;
        const x = k < K ? src[n * K + k] : 0;
        let code: number;
        if (f === 'nf4') code = d === 0 ? 7 : nf4Index(x / d);
        else {
          const q = d === 0 ? 0 : Math.max(-maxq, Math.min(maxq, roundAway(x / d)));
          code = f === 'q8' ? q & 0xff : q + 8;
        }
        if (f === 'q8') codes[base + (j >> 2)] |= code << (8 * (j & 3));
        else codes[base + (j >> 3)] |= code << (4 * (j & 7));
      }
      for (let w = 0; w < wpb; w++) codes[base + w] >>>= 0;
    }
  }
  return { format: f, N, K, codes, scales };
}

/** The weight a quantized tensor stands for: (N, K) f32. */
export function dequantize(q: QuantTensor): Float32Array {
  const { N, K, format: f } = q;
  const KB = blocksPerRow(K);
  const wpb = wordsPerBlock(f);
  const out = new Float32Array(N * K);
  for (let n = 0; n < N; n++)
    for (let k = 0; k < K; k++) {
      const b = k >> 5;
      const j = k & 31;
      const d = f16ToF32(q.scales[n * KB + b]);
      const word = q.codes[(n * KB + b) * wpb + (f === 'q8' ? j >> 2 : j >> 3)];
      if (f === 'q8') out[n * K + k] = d * ((((word >>> (8 * (j & 3))) & 0xff) << 24) >> 24);
      else {
        const c = (word >>> (4 * (j & 7))) & 0xf;
        out[n * K + k] = f === 'q4' ? d * (c - 8) : d * NF4_CODEBOOK[c];
      }
    }
  return out;
}

/** Largest error quantization may make in a block with scale d (the tests' bound). */
export function quantErrorBound(f: QuantFormat, d: number): number {
  if (f !== 'nf4') return d / 2;
  let gap = 0;
  for (let i = 1; i < 16; i++) gap = Math.max(gap, NF4_CODEBOOK[i] - NF4_CODEBOOK[i - 1]);
  return (gap / 2) * d;
}
