// RMSNorm and LayerNorm forward and backward (shaders/norm.wgsl).
// x, y, dy, dx: (rows, C); w, b, dw, db: (C); mean, rstd: (rows), saved by forward.

import type { GpuBuf } from '../gpu/arena.ts';
import type { Gpu } from '../gpu/gpu.ts';
import { f32, grid1d } from '../gpu/params.ts';
import type { KernelSpec } from '../gpu/registry.ts';

const WG = 64;
const K = {
  rmsFwd: { shader: 'norm', entry: 'rms_fwd', bindings: ['read', 'read', 'rw', 'rw'] },
  lnFwd: { shader: 'norm', entry: 'ln_fwd', bindings: ['read', 'read', 'read', 'rw', 'rw', 'rw'] },
  rmsBwd: { shader: 'norm', entry: 'rms_bwd', bindings: ['read', 'read', 'read', 'read', 'rw'] },
  lnBwd: { shader: 'norm', entry: 'ln_bwd', bindings: ['read', 'read', 'read', 'read', 'read', 'rw'] },
  rmsWgrad: { shader: 'norm', entry: 'rms_wgrad', bindings: ['read', 'read', 'read', 'rw'] },
  lnWgrad: { shader: 'norm', entry: 'ln_wgrad', bindings: ['read', 'read', 'read', 'read', 'rw', 'rw'] },
} as const satisfies Record<string, KernelSpec>;

/** y = x · rstd · w, rstd = 1/√(mean(x²) + eps). */
export function rmsNormForward(gpu: Gpu, x: GpuBuf, w: GpuBuf, y: GpuBuf, rstd: GpuBuf, rows: number, C: number, eps: number): void {
  gpu.dispatch(K.rmsFwd, { params: [rows, C, f32(eps), f32(0)], buffers: [x, w, y, rstd], grid: grid1d(rows, WG) });
}

/** dx from dy; dw = beta·dw + Σ_rows dy·x·rstd. */
export function rmsNormBackward(
  gpu: Gpu, dy: GpuBuf, x: GpuBuf, w: GpuBuf, rstd: GpuBuf, dx: GpuBuf, dw: GpuBuf, rows: number, C: number, beta = 0,
): void {
  gpu.dispatch(K.rmsBwd, { params: [rows, C, f32(0), f32(0)], buffers: [dy, x, w, rstd, dx], grid: grid1d(rows, WG) });
  gpu.dispatch(K.rmsWgrad, { params: [rows, C, f32(0), f32(beta)], buffers: [dy, x, rstd, dw], grid: grid1d(C, WG) });
}

/** y = (x − mean)·rstd·w + b. */
export function layerNormForward(
  gpu: Gpu, x: GpuBuf, w: GpuBuf, b: GpuBuf, y: GpuBuf, mean: GpuBuf, rstd: GpuBuf, rows: number, C: number, eps: number,
): void {
  gpu.dispatch(K.lnFwd, { params: [rows, C, f32(eps), f32(0)], buffers: [x, w, b, y, mean, rstd], grid: grid1d(rows, WG) });
}

/** dx from dy; dw = beta·dw + Σ dy·x̂, db = beta·db + Σ dy. */
export function layerNormBackward(
  gpu: Gpu, dy: GpuBuf, x: GpuBuf, w: GpuBuf, mean: GpuBuf, rstd: GpuBuf, dx: GpuBuf, dw: GpuBuf, db: GpuBuf,
  rows: number, C: number, beta = 0,
): void {
  gpu.dispatch(K.lnBwd, { params: [rows, C, f32(0), f32(0)], buffers: [dy, x, w, mean, rstd, dx], grid: grid1d(rows, WG) });
  gpu.dispatch(K.lnWgrad, { params: [rows, C, f32(0), f32(beta)], buffers: [dy, x, mean, rstd, dw, db], grid: grid1d(C, WG) });
}
