// Sparse gather / scatter over a unique flat index list (shaders/sparse.wgsl), for SHiRA-style
// masked updates: gather the selected gradient entries, update the (k) values, scatter them
// back. Entries of W not in idx are never written, so they stay bit-identical.
// idx: (k) u32 flat indices into W: (n), sorted and unique (buildIndexList); vals: (k).

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

/**
 * Sorted, unique, in-range u32 index list for a tensor of n values; throws SparseIndexError
 * naming the first entry that is not an integer in [0, n), or the first repeated index.
 */
export function buildIndexList(indices: ArrayLike<number>, n: number, what = 'indices'): Uint32Array {
  if (!Number.isInteger(n) || n < 0 || n > 2 ** 32) throw new SparseIndexError(`${what}: tensor size ${n} is not a count of at most 2^32`);
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

function checkSize(buf: GpuBuf, values: number, what: string): void {
  if (buf.size < values * 4) throw new RangeError(`sparse: ${what} needs ${values} values, ${buf.label} holds ${buf.size / 4}`);
}

/** vals[j] = W[idx[j]], j < k.  idx: (k) u32, W: (n), vals: (k) */
export function sparseGather(gpu: Gpu, idx: GpuBuf, W: GpuBuf, vals: GpuBuf, k: number): void {
  checkSize(idx, k, 'idx');
  checkSize(vals, k, 'vals');
  gpu.dispatch(K.gather, { params: [k, f32(0)], buffers: [idx, W, vals], grid: grid1d(k, WG) });
}

/** W[idx[j]] = vals[j], j < k; idx unique.  idx: (k) u32, vals: (k), W: (n) */
export function sparseScatter(gpu: Gpu, idx: GpuBuf, vals: GpuBuf, W: GpuBuf, k: number): void {
  checkSize(idx, k, 'idx');
  checkSize(vals, k, 'vals');
  gpu.dispatch(K.scatter, { params: [k, f32(0)], buffers: [idx, vals, W], grid: grid1d(k, WG) });
}

/** W[idx[j]] += alpha·vals[j], j < k; idx unique.  idx: (k) u32, vals: (k), W: (n) */
export function sparseScatterAdd(gpu: Gpu, idx: GpuBuf, vals: GpuBuf, W: GpuBuf, k: number, alpha: number): void {
  checkSize(idx, k, 'idx');
  checkSize(vals, k, 'vals');
  gpu.dispatch(K.scatterAdd, { params: [k, f32(alpha)], buffers: [idx, vals, W], grid: grid1d(k, WG) });
}
