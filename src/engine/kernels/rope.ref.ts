// Plain-loop reference for rope.ts (f64). x: (B, T, H, D), invFreq: (R/2).
// sign = +1: forward rotation; sign = −1: its transpose (the backward).
// The angle pos·invFreq[i] is rounded to f32, as the kernel and transformers form it
// (pos and invFreq are f32 values, so their f64 product is exact and fround gives the f32
// product); cos, sin and the rotation are then exact in f64.

import type { RopeShape } from './rope.ts';

export function ropeRef(x: ArrayLike<number>, invFreq: ArrayLike<number>, s: RopeShape, sign = 1): Float64Array {
  const out = Float64Array.from(x);
  const half = s.R / 2;
  for (let b = 0; b < s.B; b++)
    for (let t = 0; t < s.T; t++)
      for (let h = 0; h < s.H; h++) {
        const o = ((b * s.T + t) * s.H + h) * s.D;
        for (let i = 0; i < half; i++) {
          const a = Math.fround(Math.fround(s.posOffset + t) * Math.fround(invFreq[i]));
          const c = Math.cos(a);
          const sn = sign * Math.sin(a);
          const x1 = x[o + i];
          const x2 = x[o + i + half];
          out[o + i] = x1 * c - x2 * sn;
          out[o + i + half] = x2 * c + x1 * sn;
        }
      }
  return out;
}
