// Sparse gather / scatter over a unique index list (shaders/sparse.wgsl).
// idx: (k) u32 flat indices into W: (n); vals: (k).

import type { GpuBuf } from '../gpu/arena.ts';
import type { Gpu } from '../gpu/gpu.ts';
import { f32, grid1d } from '../gpu/params.ts';
import type { KernelSpec } from '../gpu/registry.ts';

const WG = 256;
const K = {
  gather: { shader: 'sparse', entry: 'gather', bindings: ['read', 'read', 'rw'] },
  scatter: { shader: 'sparse', entry: 'scatter', bindings: ['read', 'read', 'rw'] },
  scatterAdd: { shader: 'sparse', entry: 'scatter_add', bindings: ['read', 'read', 'rw'] },
} as const satisfies Record<string, KernelSpec>;

export class SparseIndexError extends Error {
  override name = 'SparseIndexError';
}

/** Sorted, unique, in-range u32 index list; throws naming the first bad entry. */
export function buildIndexList(indices: ArrayLike<number>, n: number, what = 'indices'): Uint32Array {
  const out = new Uint32Array(indices.length);
  for (let j = 0; j < indices.length; j++) {
    const v = indices[j];
    if (!Number.isInteger(v) || v < 0 || v >= n) throw new SparseIndexError(`${what}[${j}] = ${v} is outside [0, ${n})`);
    out[j] = v;
  }
  out.sort();
  for (let j = 1; j < out.length; j++) if (out[j] === out[j - 1]) throw new SparseIndexError(`${what}: index ${out[j]} appears more than once`);
  return out;
}

export function sparseGather(gpu: Gpu, idx: GpuBuf, W: GpuBuf, vals: GpuBuf, k: number): void {
  gpu.dispatch(K.gather, { params: [k, f32(0)], buffers: [idx, W, vals], grid: grid1d(k, WG) });
}

export function sparseScatter(gpu: Gpu, idx: GpuBuf, vals: GpuBuf, W: GpuBuf, k: number): void {
  gpu.dispatch(K.scatter, { params: [k, f32(0)], buffers: [idx, vals, W], grid: grid1d(k, WG) });
}

export function sparseScatterAdd(gpu: Gpu, idx: GpuBuf, vals: GpuBuf, W: GpuBuf, k: number, alpha: number): void {
  gpu.dispatch(K.scatterAdd, { params: [k, f32(alpha)], buffers: [idx, vals, W], grid: grid1d(k, WG) });
}
