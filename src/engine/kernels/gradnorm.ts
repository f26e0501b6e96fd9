// Global gradient norm and clip factor (shaders/gradnorm.wgsl), PyTorch clip_grad_norm_
// semantics. out: (2) = [norm, scale]; the optimizers read it on the GPU (see optim.ts), so
// clipping needs no host round trip. A non-finite norm comes out non-finite (the trainer
// stops), with scale 0, and the optimizers skip the update.

import type { GpuBuf } from '../gpu/arena.ts';
import type { Gpu } from '../gpu/gpu.ts';
import { f32, grid1d } from '../gpu/params.ts';
import type { KernelSpec } from '../gpu/registry.ts';

// The shader's default overrides: WG threads × CH values per thread = one tile per partial.
const WG = 64;
const CH = 64;
const TILE = WG * CH;
const K = {
  sumsq: { shader: 'gradnorm', entry: 'sumsq', bindings: ['read', 'rw'] },
  finalize: { shader: 'gradnorm', entry: 'finalize', bindings: ['read', 'rw'] },
  scaleBy: { shader: 'gradnorm', entry: 'scale_by', bindings: ['read', 'rw'] },
} as const satisfies Record<string, KernelSpec>;

export interface GradRef {
  /** (n) f32 gradient */
  buf: GpuBuf;
  /** Number of f32 values. */
  n: number;
}

function checkSize(buf: GpuBuf, floats: number, what: string): void {
  if (buf.size < floats * 4) throw new RangeError(`gradNorm: ${what} needs ${floats} floats, ${buf.label} holds ${buf.size / 4}`);
}

/** Floats the partials buffer needs for gradients of these sizes (one per 4096 values, per buffer). */
export function gradNormPartials(sizes: readonly number[]): number {
  return sizes.reduce((a, n) => a + Math.ceil(n / TILE), 0);
}

/**
 * out = [‖g‖₂ over all grads, scale], scale = min(1, maxNorm / (‖g‖ + 1e-6)); maxNorm <= 0
 * means no clipping (scale 1); a non-finite norm gives scale 0.
 * partials: (gradNormPartials(sizes)) scratch the caller owns; out: (2).
 */
export function gradNorm(gpu: Gpu, grads: readonly GradRef[], partials: GpuBuf, out: GpuBuf, maxNorm: number): void {
  const count = gradNormPartials(grads.map((g) => g.n));
  checkSize(partials, count, 'partials');
  checkSize(out, 2, 'out');
  let base = 0;
  for (const g of grads) {
    if (!Number.isInteger(g.n) || g.n < 0) throw new RangeError(`gradNorm: gradient size ${g.n} is not a count`);
    checkSize(g.buf, g.n, 'gradient');
    const tiles = Math.ceil(g.n / TILE);
    if (tiles === 0) continue;
    gpu.dispatch(K.sumsq, { params: [g.n, base, f32(0)], buffers: [g.buf, partials], grid: grid1d(tiles, 1) });
    base += tiles;
  }
  gpu.dispatch(K.finalize, { params: [count, 0, f32(maxNorm)], buffers: [partials, out], grid: [1] });
}

/** g *= clip[1] in place (for updates that do not take the clip buffer themselves).  g: (n), clip: (2) */
export function applyClip(gpu: Gpu, g: GpuBuf, n: number, clip: GpuBuf): void {
  checkSize(g, n, 'gradient');
  checkSize(clip, 2, 'clip');
  gpu.dispatch(K.scaleBy, { params: [n, 0, f32(0)], buffers: [clip, g], grid: grid1d(n, WG) });
}
