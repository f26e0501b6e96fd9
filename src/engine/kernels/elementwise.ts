// Flat vector operations (shaders/elementwise.wgsl). Shapes: x, y: (n).

import type { GpuBuf } from '../gpu/arena.ts';
import type { Gpu } from '../gpu/gpu.ts';
import { f32, grid1d } from '../gpu/params.ts';
import type { KernelSpec } from '../gpu/registry.ts';

const WG = 256;
const K = {
  fill: { shader: 'elementwise', entry: 'fill', bindings: ['rw'] },
  scale: { shader: 'elementwise', entry: 'scale', bindings: ['rw'] },
  axpby: { shader: 'elementwise', entry: 'axpby', bindings: ['read', 'rw'] },
  mul: { shader: 'elementwise', entry: 'mul', bindings: ['read', 'rw'] },
  biasAdd: { shader: 'elementwise', entry: 'bias_add', bindings: ['read', 'rw'] },
  copy2d: { shader: 'elementwise', entry: 'copy2d', bindings: ['read', 'rw'] },
} as const satisfies Record<string, KernelSpec>;

/** y[i] = value for i < n */
export function fill(gpu: Gpu, y: GpuBuf, n: number, value: number): void {
  gpu.dispatch(K.fill, { params: [n, f32(value), f32(0)], buffers: [y], grid: grid1d(n, WG) });
}

/** y = alpha * y */
export function scale(gpu: Gpu, y: GpuBuf, n: number, alpha: number): void {
  gpu.dispatch(K.scale, { params: [n, f32(alpha), f32(0)], buffers: [y], grid: grid1d(n, WG) });
}

/** y = alpha * x + beta * y (beta = 0 never reads y) */
export function axpby(gpu: Gpu, x: GpuBuf, y: GpuBuf, n: number, alpha: number, beta: number): void {
  gpu.dispatch(K.axpby, { params: [n, f32(alpha), f32(beta)], buffers: [x, y], grid: grid1d(n, WG) });
}

/** y = x ⊙ y */
export function mul(gpu: Gpu, x: GpuBuf, y: GpuBuf, n: number): void {
  gpu.dispatch(K.mul, { params: [n, f32(0), f32(0)], buffers: [x, y], grid: grid1d(n, WG) });
}

/** y[r, :] += b for every row.  b: (cols), y: (rows, cols) */
export function biasAdd(gpu: Gpu, b: GpuBuf, y: GpuBuf, rows: number, cols: number): void {
  gpu.dispatch(K.biasAdd, { params: [rows * cols, f32(0), f32(0), cols], buffers: [b, y], grid: grid1d(rows * cols, WG) });
}

export interface Slice2d {
  rows: number;
  cols: number;
  /** Row strides (elements) and column offsets of source and destination. */
  srcStride: number;
  srcOff: number;
  dstStride: number;
  dstOff: number;
}

/** y[r, dstOff + c] = x[r, srcOff + c] for r < rows, c < cols (row-major, strides in elements). */
export function copy2d(gpu: Gpu, x: GpuBuf, y: GpuBuf, s: Slice2d): void {
  const n = s.rows * s.cols;
  gpu.dispatch(K.copy2d, {
    params: [n, f32(0), f32(0), s.cols, s.srcStride, s.srcOff, s.dstStride, s.dstOff],
    buffers: [x, y],
    grid: grid1d(n, WG),
  });
}
