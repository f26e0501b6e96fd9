// Plain-loop references for optim.ts (f64), following the algorithms PyTorch documents for
// torch.optim.AdamW and torch.optim.SGD. `scale` is the clip factor; a non-finite `norm`
// (clip buffer's first word) skips the step, as the kernels do.

import type { AdamWConfig, SgdConfig } from './optim.ts';

export interface AdamState {
  p: Float64Array;
  m: Float64Array;
  v: Float64Array;
}

export function adamwRef(s: AdamState, g: ArrayLike<number>, t: number, c: AdamWConfig, scale = 1, norm = 0): AdamState {
  const p = Float64Array.from(s.p);
  const m = Float64Array.from(s.m);
  const v = Float64Array.from(s.v);
  if (!Number.isFinite(norm)) return { p, m, v };
  const bc1 = 1 - c.beta1 ** t;
  const bc2 = 1 - c.beta2 ** t;
  for (let i = 0; i < p.length; i++) {
    const gi = g[i] * scale;
    p[i] *= 1 - c.lr * c.weightDecay;
    m[i] = c.beta1 * m[i] + (1 - c.beta1) * gi;
    v[i] = c.beta2 * v[i] + (1 - c.beta2) * gi * gi;
    p[i] -= (c.lr * (m[i] / bc1)) / (Math.sqrt(v[i] / bc2) + c.eps);
  }
  return { p, m, v };
}

export interface SgdState {
  p: Float64Array;
  buf: Float64Array;
}

export function sgdRef(p0: ArrayLike<number>, buf0: ArrayLike<number>, g: ArrayLike<number>, first: boolean, c: SgdConfig, scale = 1, norm = 0): SgdState {
  const p = Float64Array.from(p0);
  const buf = Float64Array.from(buf0);
  if (!Number.isFinite(norm)) return { p, buf };
  for (let i = 0; i < p.length; i++) {
    let gi = g[i] * scale + c.weightDecay * p[i];
    if (c.momentum !== 0) {
      buf[i] = first ? gi : c.momentum * buf[i] + (1 - c.dampening) * gi;
      gi = c.nesterov ? gi + c.momentum * buf[i] : buf[i];
    }
    p[i] -= c.lr * gi;
  }
  return { p, buf };
}
