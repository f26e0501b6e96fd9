// Counter-based random numbers on the GPU (shaders/rng.wgsl); definitions in rng.ref.ts.
// Indices are u32: one stream holds 2^32 values per seed; give each tensor its own offset.

import type { GpuBuf } from '../gpu/arena.ts';
import type { Gpu } from '../gpu/gpu.ts';
import { f32, grid1d } from '../gpu/params.ts';
import type { KernelSpec } from '../gpu/registry.ts';

const WG = 256;
const K = {
  raw: { shader: 'rng', entry: 'raw', bindings: ['rw'] },
  uniform: { shader: 'rng', entry: 'fill_uniform', bindings: ['rw'] },
  normal: { shader: 'rng', entry: 'fill_normal', bindings: ['rw'] },
  perturb: { shader: 'rng', entry: 'perturb', bindings: ['rw'] },
  perturbIndexed: { shader: 'rng', entry: 'perturb_indexed', bindings: ['read', 'rw'] },
} as const satisfies Record<string, KernelSpec>;

function seedParts(seed: number): [number, number] {
  if (!Number.isSafeInteger(seed) || seed < 0) throw new RangeError(`seed ${seed} must be a non-negative safe integer`);
  return [seed % 2 ** 32, Math.floor(seed / 2 ** 32)];
}

function params(n: number, seed: number, offset: number, a: number, b: number) {
  if (offset + n > 2 ** 32) throw new RangeError(`rng stream index ${offset + n} is past 2^32`);
  return [n, ...seedParts(seed), offset, f32(a), f32(b)];
}

/** out: (4·blocks) u32 — Philox blocks 0..blocks−1 of `seed`, for bitwise checks. */
export function philoxRaw(gpu: Gpu, out: GpuBuf, blocks: number, seed: number): void {
  gpu.dispatch(K.raw, { params: params(blocks, seed, 0, 0, 0), buffers: [out], grid: grid1d(blocks, WG) });
}

/** out[i] = lo + (hi − lo)·uniform(seed, offset + i).  out: (n) */
export function fillUniform(gpu: Gpu, out: GpuBuf, n: number, seed: number, offset: number, lo: number, hi: number): void {
  gpu.dispatch(K.uniform, { params: params(n, seed, offset, lo, hi), buffers: [out], grid: grid1d(n, WG) });
}

/** out[i] = mean + std·gaussian(seed, offset + i).  out: (n) */
export function fillNormal(gpu: Gpu, out: GpuBuf, n: number, seed: number, offset: number, mean: number, std: number): void {
  gpu.dispatch(K.normal, { params: params(n, seed, offset, mean, std), buffers: [out], grid: grid1d(n, WG) });
}

/** w[i] += c·gaussian(seed, offset + i), in place.  w: (n) */
export function perturb(gpu: Gpu, w: GpuBuf, n: number, seed: number, offset: number, c: number): void {
  gpu.dispatch(K.perturb, { params: params(n, seed, offset, c, 0), buffers: [w], grid: grid1d(n, WG) });
}

/** w[idx[k]] += c·gaussian(seed, offset + k) for k < count.  idx: (count) u32, unique */
export function perturbIndexed(gpu: Gpu, idx: GpuBuf, w: GpuBuf, count: number, seed: number, offset: number, c: number): void {
  gpu.dispatch(K.perturbIndexed, { params: params(count, seed, offset, c, 0), buffers: [idx, w], grid: grid1d(count, WG) });
}
