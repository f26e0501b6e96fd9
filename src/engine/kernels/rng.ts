// Counter-based random numbers on the GPU (shaders/rng.wgsl); the streams are defined in
// rng.ref.ts. A stream is (seed, stream id) and holds 2^32 values indexed by u32: give each
// tensor its own stream id (or its own offset range in one stream), and regenerate noise from
// (seed, stream, offset) instead of storing it (MeZO).

import type { GpuBuf } from '../gpu/arena.ts';
import type { Gpu } from '../gpu/gpu.ts';
import { f32, grid1d, type Param } from '../gpu/params.ts';
import type { KernelSpec } from '../gpu/registry.ts';
import { rngKey } from '../rng/philox.ts';

const WG = 256;
const K = {
  raw: { shader: 'rng', entry: 'raw', bindings: ['rw'] },
  uniform: { shader: 'rng', entry: 'fill_uniform', bindings: ['rw'] },
  normal: { shader: 'rng', entry: 'fill_normal', bindings: ['rw'] },
  perturb: { shader: 'rng', entry: 'perturb', bindings: ['rw'] },
  perturbIndexed: { shader: 'rng', entry: 'perturb_indexed', bindings: ['read', 'rw'] },
} as const satisfies Record<string, KernelSpec>;

function checkU32(x: number, what: string): void {
  if (!Number.isInteger(x) || x < 0 || x > 0xffffffff) throw new RangeError(`rng: ${what} ${x} must be a u32`);
}

function checkSize(buf: GpuBuf, values: number, what: string): void {
  if (buf.size < values * 4) throw new RangeError(`rng: ${what} needs ${values} values, ${buf.label} holds ${buf.size / 4}`);
}

function params(n: number, seed: number, offset: number, stream: number, a: number, b: number): Param[] {
  checkU32(n, 'count');
  checkU32(offset, 'offset');
  checkU32(stream, 'stream');
  if (offset + n > 2 ** 32) throw new RangeError(`rng: stream index ${offset + n} is past 2^32; use another stream id`);
  return [n, ...rngKey(seed), offset, stream, f32(a), f32(b)];
}

/** Workgroups for one thread per Philox block touched by [offset, offset + n). */
function blockGrid(n: number, offset: number): [number, number] {
  const blocks = n === 0 ? 0 : Math.floor((offset + n - 1) / 4) - Math.floor(offset / 4) + 1;
  return grid1d(blocks, WG);
}

/** out: (4·blocks) u32 — raw Philox blocks 0..blocks−1 of (seed, stream), for bitwise checks. */
export function philoxRaw(gpu: Gpu, out: GpuBuf, blocks: number, seed: number, stream = 0): void {
  checkSize(out, 4 * blocks, 'raw out');
  gpu.dispatch(K.raw, { params: params(blocks, seed, 0, stream, 0, 0), buffers: [out], grid: grid1d(blocks, WG) });
}

/** out[k] = lo + (hi − lo)·uniform(seed, offset + k, stream), k < n.  out: (n) */
export function fillUniform(gpu: Gpu, out: GpuBuf, n: number, seed: number, offset: number, lo: number, hi: number, stream = 0): void {
  checkSize(out, n, 'fillUniform out');
  gpu.dispatch(K.uniform, { params: params(n, seed, offset, stream, lo, hi), buffers: [out], grid: blockGrid(n, offset) });
}

/** out[k] = mean + std·gaussian(seed, offset + k, stream), k < n.  out: (n) */
export function fillNormal(gpu: Gpu, out: GpuBuf, n: number, seed: number, offset: number, mean: number, std: number, stream = 0): void {
  checkSize(out, n, 'fillNormal out');
  gpu.dispatch(K.normal, { params: params(n, seed, offset, stream, mean, std), buffers: [out], grid: blockGrid(n, offset) });
}

/** w[k] += c·gaussian(seed, offset + k, stream), in place, k < n.  w: (n) */
export function perturb(gpu: Gpu, w: GpuBuf, n: number, seed: number, offset: number, c: number, stream = 0): void {
  checkSize(w, n, 'perturb w');
  gpu.dispatch(K.perturb, { params: params(n, seed, offset, stream, c, 0), buffers: [w], grid: blockGrid(n, offset) });
}

/**
 * w[idx[k]] += c·gaussian(seed, offset + k, stream) for k < count: the noise is indexed by list
 * position, not by weight position.  idx: (count) u32, unique (see buildIndexList in sparse.ts);
 * w: (≥ max idx + 1)
 */
export function perturbIndexed(gpu: Gpu, idx: GpuBuf, w: GpuBuf, count: number, seed: number, offset: number, c: number, stream = 0): void {
  checkSize(idx, count, 'perturbIndexed idx');
  gpu.dispatch(K.perturbIndexed, { params: params(count, seed, offset, stream, c, 0), buffers: [idx, w], grid: blockGrid(count, offset) });
}
