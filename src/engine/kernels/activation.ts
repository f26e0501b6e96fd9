// SwiGLU and tanh-GELU forward/backward (shaders/activation.wgsl). All buffers (n) flat.

import type { GpuBuf } from '../gpu/arena.ts';
import type { Gpu } from '../gpu/gpu.ts';
import { grid1d } from '../gpu/params.ts';
import type { KernelSpec } from '../gpu/registry.ts';

const WG = 256;
const K = {
  swigluFwd: { shader: 'activation', entry: 'swiglu_fwd', bindings: ['read', 'read', 'rw'] },
  swigluBwd: { shader: 'activation', entry: 'swiglu_bwd', bindings: ['read', 'read', 'read', 'rw', 'rw'] },
  geluFwd: { shader: 'activation', entry: 'gelu_fwd', bindings: ['read', 'rw'] },
  geluBwd: { shader: 'activation', entry: 'gelu_bwd', bindings: ['read', 'read', 'rw'] },
} as const satisfies Record<string, KernelSpec>;

/** h = silu(g) ⊙ u.  g, u, h: (n) */
export function swigluForward(gpu: Gpu, g: GpuBuf, u: GpuBuf, h: GpuBuf, n: number): void {
  gpu.dispatch(K.swigluFwd, { params: [n], buffers: [g, u, h], grid: grid1d(n, WG) });
}

/** dg, du from dh.  all (n) */
export function swigluBackward(gpu: Gpu, dh: GpuBuf, g: GpuBuf, u: GpuBuf, dg: GpuBuf, du: GpuBuf, n: number): void {
  gpu.dispatch(K.swigluBwd, { params: [n], buffers: [dh, g, u, dg, du], grid: grid1d(n, WG) });
}

/** y = gelu_tanh(x).  x, y: (n) */
export function geluForward(gpu: Gpu, x: GpuBuf, y: GpuBuf, n: number): void {
  gpu.dispatch(K.geluFwd, { params: [n], buffers: [x, y], grid: grid1d(n, WG) });
}

/** dx from dy.  all (n) */
export function geluBackward(gpu: Gpu, dy: GpuBuf, x: GpuBuf, dx: GpuBuf, n: number): void {
  gpu.dispatch(K.geluBwd, { params: [n], buffers: [dy, x, dx], grid: grid1d(n, WG) });
}
