// Rounding f64 values straight to F32, F16 or BF16 bit patterns, to nearest with ties to
// even (IEEE 754 roundTiesToEven), in one step: rounding through f32 first would round
// twice and can land one ulp off on ties. Overflow gives ±Infinity, as IEEE rounding does
// (for F16: |x| ≥ 65520; for BF16: |x| ≥ 2^128·(1 − 2^-9)); NaN stays NaN; subnormals
// are kept (gradual underflow).

import type { Dtype } from '../io/safetensors.ts';

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** x rounded to a binary format with `p` significant bits (implicit bit included) and
 *  smallest normal exponent `emin`; values beyond the largest finite become ±Infinity. */
function roundTo(x: number, p: number, emin: number, maxFinite: number): number {
  if (!Number.isFinite(x) || x === 0) return x;
  const a = Math.abs(x);
  let e = Math.floor(Math.log2(a));
  while (2 ** e > a) e--;
  while (2 ** (e + 1) <= a) e++;
  const ulp = 2 ** (Math.max(e, emin) - (p - 1));
  const q = a / ulp; // exact: a power-of-two scaling
  let r = Math.floor(q);
  const rest = q - r;
  if (rest > 0.5 || (rest === 0.5 && r % 2 === 1)) r += 1;
  const v = r * ulp;
  return Math.sign(x) * (v > maxFinite ? Infinity : v);
}

/** F16 bits of x (RNE). */
export function f64ToF16Bits(x: number): number {
  if (Number.isNaN(x)) return 0x7e00;
  const v = roundTo(x, 11, -14, 65504);
  const sign = v < 0 || Object.is(v, -0) ? 0x8000 : 0;
  const a = Math.abs(v);
  if (a === Infinity) return sign | 0x7c00;
  if (a === 0) return sign;
  if (a < 2 ** -14) return sign | Math.round(a / 2 ** -24); // subnormal: exact multiple of 2^-24
  let e = Math.floor(Math.log2(a));
  while (2 ** e > a) e--;
  while (2 ** (e + 1) <= a) e++;
  return sign | ((e + 15) << 10) | Math.round((a / 2 ** e - 1) * 1024);
}

/** BF16 bits of x (RNE): the high half of the f32 pattern of the rounded value, which is
 *  exactly representable in f32. */
export function f64ToBf16Bits(x: number): number {
  if (Number.isNaN(x)) return 0x7fc0;
  f32[0] = roundTo(x, 8, -126, 3.3895313892515355e38); // (2 − 2^-7)·2^127
  return u32[0] >>> 16;
}

/** Values of a float dtype (F32, F16, BF16) as little-endian bytes. */
export function encodeFloats(values: ArrayLike<number>, dtype: Dtype): Uint8Array {
  const n = values.length;
  if (dtype === 'F32') {
    const out = new Uint8Array(n * 4);
    const dv = new DataView(out.buffer);
    for (let i = 0; i < n; i++) dv.setFloat32(i * 4, values[i], true); // the f32 conversion rounds to nearest even
    return out;
  }
  if (dtype === 'F16' || dtype === 'BF16') {
    const out = new Uint8Array(n * 2);
    const dv = new DataView(out.buffer);
    const bits = dtype === 'F16' ? f64ToF16Bits : f64ToBf16Bits;
    for (let i = 0; i < n; i++) dv.setUint16(i * 2, bits(values[i]), true);
    return out;
  }
  throw new Error(`cannot write float values as ${dtype}`);
}
