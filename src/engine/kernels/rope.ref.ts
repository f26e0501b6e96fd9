// Plain-loop reference for rope.ts (f64). x: (B, T, H, D).

import type { RopeShape } from './rope.ts';

export function ropeRef(x: ArrayLike<number>, invFreq: ArrayLike<number>, s: RopeShape, sign = 1): Float64Array {
  const out = Float64Array.from(x);
  const half = s.R / 2;
  for (let b = 0; b < s.B; b++)
    for (let t = 0; t < s.T; t++)
      for (let h = 0; h < s.H; h++) {
        const o = ((b * s.T + t) * s.H + h) * s.D;
        for (let i = 0; i < half; i++) {
          const a = (s.posOffset + t) * invFreq[i];
          const [c, sn] = [Math.cos(a), sign * Math.sin(a)];
          const x1 = x[o + i];
          const x2 = x[o + i + half];
          out[o + i] = x1 * c - x2 * sn;
          out[o + i + half] = x2 * c + x1 * sn;
        }
      }
  return out;
}
