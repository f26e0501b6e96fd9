// Block quantization of a weight W: (N, K), row-major, quantized along K in blocks of 32.
// KB = ceil(K / 32) blocks per row; the last block of a row is zero-padded when
// K % 32 != 0 (padding is quantized as 0 and decodes to 0). These are the host pack /
// unpack and the CPU references; shaders/quant.wgsl (GPU quantize, bit-identical) and
// shaders/qmatmul.wgsl read exactly this layout.
//
// Byte layout (all little-endian u32 words):
//   codes   (N · KB · WPB) u32, block (n, b) at words (n·KB + b)·WPB ..
//     q8    WPB = 8: element j of the block (0..31) is the int8 in byte j%4 of word j/4
//     q4    WPB = 4: element j is the nibble at bits 4·(j%8) .. 4·(j%8)+3 of word j/8
//     nf4   WPB = 4: packed like q4
//   scales  (ceil(N · KB / 2)) u32: the f16 scale d of block s = n·KB + b is the low half
//           of word s/2 when s is even, the high half when odd (unpack2x16float(w)[s % 2]).
//           An odd total leaves the last high half 0.
//   Bits per weight: q8 8.5 (34 bytes per 32 weights), q4 and nf4 4.5 (18 bytes): q4 reads
//   4.5/32 ≈ 1/7.1 of the f32 bytes.
//
// Exact rules (the GPU quantize reproduces them bit for bit; every comparison below is
// exact in f32, so no division precision enters the result):
//   ceil16(a / Q) = the smallest f16 h ≥ 0 with h·Q ≥ a (scales are rounded UP to f16, so
//                   no weight ever lands past the outermost level).
//   rha(t)        = round half away from zero.
//   q8   d = ceil16(absmax / 127); code q = rha(w / d) ∈ [−127, 127] as int8.
//        Decodes to d·q; error ≤ d/2.
//   q4   16 levels −8..7. Let L be the larger and S the smaller of (max(−w, 0), max(w, 0))
//        over the block; the sign σ = +1 when the negative side is the larger (ties +1),
//        else −1, so the larger side always uses the extra level −8:
//        d = σ·max(ceil16(L / 8.5), ceil16(S / 7.5)); q = clamp(rha(w / d), −8, 7), stored
//        as q + 8. Decodes to d·(code − 8); error ≤ |d|/2 (w/d ∈ [−8.5, 7.5]). For a
//        block whose two sides are within 12% of each other, |d| = absmax / 7.5; otherwise
//        absmax / 8.5, i.e. 13% to 28% less error than the plain absmax / 7 of levels ±7.
//   nf4  d = ceil16(absmax); code = the number of i in 0..14 with w ≥ f32(m_i · d), where
//        m_i = f32(c_i + c_{i+1}) / 2 are the midpoints of QLoRA's NormalFloat4 codebook c
//        (so: nearest codebook value to w / d, ties upward). Decodes to d·c[code]; error ≤
//        (largest gap / 2)·d. A block of zeros has d = 0 and codes 0 (q8), 8 (q4), 7 (nf4).
// Limits: |w| < 65504·Q (the scale must fit f16); f32 subnormal weights (|w| < 2^-126) may
// be flushed to 0 by a GPU quantize.

import { f16ToF32 } from '../io/safetensors.ts';

export const QUANT_FORMATS = ['q8', 'q4', 'nf4'] as const;
export type QuantFormat = (typeof QUANT_FORMATS)[number];
export const QBLOCK = 32;

/** QLoRA's NormalFloat4 codebook (Dettmers et al. 2023, appendix E), as f32. */
export const NF4_CODEBOOK = Float32Array.from([
  -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635, -0.18477343022823334,
  -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
  0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0,
]);

/** Midpoints m_i = f32(c_i + c_{i+1}) / 2 (exactly as the shader computes them). */
const NF4_MID = Float64Array.from({ length: 15 }, (_, i) => Math.fround(NF4_CODEBOOK[i] + NF4_CODEBOOK[i + 1]) / 2);

/** A quantized (N, K) weight, or a row range of one. */
export interface QuantTensor {
  format: QuantFormat;
  N: number;
  K: number;
  /** (N · KB · wordsPerBlock) u32 */
  codes: Uint32Array;
  /** (ceil(N · KB / 2)) u32, two f16 scales each (block order, even index low). */
  scales: Uint32Array;
}

export function wordsPerBlock(f: QuantFormat): number {
  return f === 'q8' ? 8 : 4;
}

export function blocksPerRow(K: number): number {
  return Math.ceil(K / QBLOCK);
}

/** Bytes of codes for an (N, K) weight. */
export function codeBytes(N: number, K: number, f: QuantFormat): number {
  return N * blocksPerRow(K) * wordsPerBlock(f) * 4;
}

/** Bytes of scales for an (N, K) weight. */
export function scaleBytes(N: number, K: number): number {
  return Math.ceil((N * blocksPerRow(K)) / 2) * 4;
}

/** Bytes on the GPU (and on the host) for an (N, K) weight in format f: codes + scales. */
export function quantBytes(N: number, K: number, f: QuantFormat): number {
  return codeBytes(N, K, f) + scaleBytes(N, K);
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

export { f16ToF32 };

/**
 * ceil16(a / Q): bits of the smallest f16 h ≥ 0 with h·Q ≥ a (a ≥ 0). A nearby start from
 * an approximate quotient, then exact tests over a small window (h·Q is exact in f32 for
 * Q ∈ {127, 8.5, 7.5, 1}), so any division accuracy gives the same answer.
 */
export function ceilF16(a: number, Q: number): number {
  const h0 = f32ToF16(Math.fround(a / Q));
  for (let h = Math.max(h0, 2) - 2; h < h0 + 2; h++) if (f16ToF32(h) * Q >= a) return h;
  return h0 + 2;
}

/** rha(a / d) for a ≥ 0, d > 0, capped at qmax, by exact threshold tests. */
function roundMag(a: number, d: number, qmax: number): number {
  let q = Math.min(qmax, Math.max(0, Math.floor(a / d + 0.5)));
  while (q < qmax && a >= (q + 0.5) * d) q++;
  while (q > 0 && a < (q - 0.5) * d) q--;
  return q;
}

/** Encode one block: x[0..count) (the rest is padding) → scale bits; codes into `codes` at `base`. */
function encodeBlock(x: ArrayLike<number>, off: number, count: number, f: QuantFormat, codes: Uint32Array, base: number): number {
  let pos = 0;
  let neg = 0;
  for (let j = 0; j < count; j++) {
    const v = Math.fround(x[off + j]);
    if (v > pos) pos = v;
    if (-v > neg) neg = -v;
  }
  let h: number;
  if (f === 'q8') h = ceilF16(Math.max(pos, neg), 127);
  else if (f === 'nf4') h = ceilF16(Math.max(pos, neg), 1);
  else {
    const [L, S] = neg >= pos ? [neg, pos] : [pos, neg];
    h = Math.max(ceilF16(L, 8.5), ceilF16(S, 7.5));
    if (neg < pos) h |= 0x8000;
  }
  const d = f16ToF32(h & 0x7fff);
  const flip = h & 0x8000 ? -1 : 1;
  const wpb = wordsPerBlock(f);
  for (let w = 0; w < wpb; w++) codes[base + w] = 0;
  for (let j = 0; j < QBLOCK; j++) {
    const v = j < count ? Math.fround(x[off + j]) : 0;
    let code: number;
    if (f === 'nf4') {
      code = 7;
      if (d !== 0) {
        code = 0;
        for (let i = 0; i < 15; i++) if (v >= Math.fround(NF4_MID[i] * d)) code++;
      }
    } else if (f === 'q8') {
      const q = d === 0 ? 0 : roundMag(Math.abs(v), d, 127);
      code = (v < 0 ? -q : q) & 0xff;
    } else {
      const s = v * flip;
      const q = d === 0 ? 0 : roundMag(Math.abs(s), d, s < 0 ? 8 : 7);
      code = (s < 0 ? -q : q) + 8;
    }
    if (f === 'q8') codes[base + (j >> 2)] |= code << (8 * (j & 3));
    else codes[base + (j >> 3)] |= code << (4 * (j & 7));
  }
  return h;
}

/** An empty (zero-filled) quantized (N, K) tensor to fill row range by row range. */
export function allocQuantHost(format: QuantFormat, N: number, K: number): QuantTensor {
  return { format, N, K, codes: new Uint32Array(codeBytes(N, K, format) / 4), scales: new Uint32Array(scaleBytes(N, K) / 4) };
}

/**
 * Quantize `rows` rows of `src` ((rows, K) f32, row-major) into rows row0 .. row0+rows of
 * `dst`. A loader streams a tensor by calling this per row range, so only that range is
 * ever in f32.
 */
export function quantizeRowsInto(dst: QuantTensor, row0: number, src: ArrayLike<number>, rows: number): void {
  const { K, format: f } = dst;
  if (row0 < 0 || row0 + rows > dst.N) throw new RangeError(`quantizeRowsInto: rows ${row0}..${row0 + rows} outside (${dst.N}, ${K})`);
  if (src.length < rows * K) throw new RangeError(`quantizeRowsInto: ${rows}x${K} needs ${rows * K} values, got ${src.length}`);
  const KB = blocksPerRow(K);
  const wpb = wordsPerBlock(f);
  for (let r = 0; r < rows; r++)
    for (let b = 0; b < KB; b++) {
      const s = (row0 + r) * KB + b;
      const h = encodeBlock(src, r * K + b * QBLOCK, Math.min(QBLOCK, K - b * QBLOCK), f, dst.codes, s * wpb);
      const sh = 16 * (s & 1);
      dst.scales[s >> 1] = ((dst.scales[s >> 1] & ~(0xffff << sh)) | (h << sh)) >>> 0;
    }
}

/** Quantize an (N, K) f32 weight (or one row range of it, N rows) into format f. */
export function quantizeRows(src: ArrayLike<number>, N: number, K: number, f: QuantFormat): QuantTensor {
  const q = allocQuantHost(f, N, K);
  quantizeRowsInto(q, 0, src, N);
  return q;
}

/** Same as quantizeRows (the name the model loader uses). */
export const quantize = quantizeRows;

/** f16 bits of the scale of block s. */
export function scaleBits(q: QuantTensor, s: number): number {
  return (q.scales[s >> 1] >>> (16 * (s & 1))) & 0xffff;
}

/** The value of element j (0..31) of block s. */
function decodeAt(q: QuantTensor, s: number, j: number, d: number): number {
  if (q.format === 'q8') return d * ((((q.codes[s * 8 + (j >> 2)] >>> (8 * (j & 3))) & 0xff) << 24) >> 24);
  const c = (q.codes[s * 4 + (j >> 3)] >>> (4 * (j & 7))) & 0xf;
  return q.format === 'q4' ? d * (c - 8) : d * NF4_CODEBOOK[c];
}

/** Rows row0 .. row0+rows of the weight `q` stands for: (rows, K) f32. */
export function dequantizeRows(q: QuantTensor, row0 = 0, rows = q.N - row0): Float32Array {
  const { K } = q;
  const KB = blocksPerRow(K);
  const out = new Float32Array(rows * K);
  for (let r = 0; r < rows; r++)
    for (let b = 0; b < KB; b++) {
      const s = (row0 + r) * KB + b;
      const d = f16ToF32(scaleBits(q, s));
      for (let j = 0; j < QBLOCK && b * QBLOCK + j < K; j++) out[r * K + b * QBLOCK + j] = decodeAt(q, s, j, d);
    }
  return out;
}

/** The whole (N, K) weight `q` stands for. */
export function dequantize(q: QuantTensor): Float32Array {
  return dequantizeRows(q);
}

/** Largest error quantization may make in a block with scale d (the tests' bound). */
export function quantErrorBound(f: QuantFormat, d: number): number {
  if (f !== 'nf4') return Math.abs(d) / 2;
  let gap = 0;
  for (let i = 1; i < 16; i++) gap = Math.max(gap, NF4_CODEBOOK[i] - NF4_CODEBOOK[i - 1]);
  return (gap / 2) * Math.abs(d);
}
