// Global gradient norm and clip factor (shaders/gradnorm.wgsl).
// out: (2) = [norm, scale]; the optimizers read scale from it (see optim.ts).

import type { GpuBuf } from '../gpu/arena.ts';
import type { Gpu } from '../gpu/gpu.ts';
import { f32, grid1d } from '../gpu/params.ts';
import type { KernelSpec } from '../gpu/registry.ts';

const WG = 64;
const CH = 256; // the shader's default chunk
const K = {
  sumsq: { shader: 'gradnorm', entry: 'sumsq', bindings: ['read', 'rw'] },
  finalize: { shader: 'gradnorm', entry: 'finalize', bindings: ['read', 'rw'] },
} as const satisfies Record<string, KernelSpec>;

export interface GradRef {
  buf: GpuBuf;
  /** Number of f32 values. */
  n: number;
}

/** Floats the partials buffer needs for gradients of these sizes. */
export function gradNormPartials(sizes: readonly number[]): number {
  return sizes.reduce((a, n) => a + Math.ceil(n / CH), 0);
}

/** out = [‖g‖₂ over all grads, min(1, maxNorm/(‖g‖+1e-6))]; maxNorm <= 0 means no clipping (scale 1). */
export function gradNorm(gpu: Gpu, grads: readonly GradRef[], partials: GpuBuf, out: GpuBuf, maxNorm: number): void {
  const count = gradNormPartials(grads.map((g) => g.n));
  if (count * 4 > partials.size) throw new RangeError(`gradNorm: partials needs ${count} floats, ${partials.label} has ${partials.size / 4}`);
  let base = 0;
  for (const g of grads) {
    const chunks = Math.ceil(g.n / CH);
    if (chunks === 0) continue;
    gpu.dispatch(K.sumsq, { params: [g.n, base, f32(0)], buffers: [g.buf, partials], grid: grid1d(chunks, WG) });
    base += chunks;
  }
  gpu.dispatch(K.finalize, { params: [count, 0, f32(maxNorm)], buffers: [partials, out], grid: [1] });
}
