// Sampled dense-dense matmul (shaders/sddmm.wgsl): the gradient of K chosen entries of a
// linear layer's weight, vals[k] = alpha·Σ_n dy[n, r_k]·x[n, c_k] + beta·vals[k], without the
// dense dW = dyᵀ·x. idx: (K) u32 flat indices into W's storage order ('out-in': W (out, in),
// 'in-out': GPT-2 Conv1D W (in, out)); dy: (N, out), x: (N, in), vals: (K).

import type { GpuBuf } from '../gpu/arena.ts';
import type { Gpu } from '../gpu/gpu.ts';
import { f32, grid1d } from '../gpu/params.ts';
import type { KernelSpec } from '../gpu/registry.ts';

const WG = 256;
const K = {
  sddmm: { shader: 'sddmm', entry: 'sddmm', bindings: ['read', 'read', 'read', 'rw'] },
} as const satisfies Record<string, KernelSpec>;

export interface SddmmShape {
  /** Sampled entries. */
  k: number;
  /** Rows of dy and x (tokens). */
  n: number;
  out: number;
  in: number;
  /** W's storage order, which the flat indices refer to. */
  layout: 'out-in' | 'in-out';
  alpha?: number;
  /** 0 (default): vals is overwritten and never read. */
  beta?: number;
}

function need(buf: GpuBuf, values: number, what: string): void {
  if (buf.size < values * 4) throw new RangeError(`sddmm: ${what} needs ${values} values, ${buf.label} holds ${buf.size / 4}`);
}

/** vals[k] = alpha·Σ_n dy[n, r_k]·x[n, c_k] + beta·vals[k].  idx: (k) u32, dy: (n, out), x: (n, in), vals: (k) */
export function sddmm(gpu: Gpu, idx: GpuBuf, dy: GpuBuf, x: GpuBuf, vals: GpuBuf, s: SddmmShape): void {
  if (s.k === 0) return;
  need(idx, s.k, 'idx');
  need(vals, s.k, 'vals');
  need(dy, s.n * s.out, 'dy');
  need(x, s.n * s.in, 'x');
  gpu.dispatch(K.sddmm, {
    params: [s.k, s.n, s.out, s.in, s.layout === 'out-in' ? 0 : 1, f32(s.alpha ?? 1), f32(s.beta ?? 0)],
    buffers: [idx, dy, x, vals],
    grid: grid1d(s.k, WG),
    overrides: { WG },
  });
}
