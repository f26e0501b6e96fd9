// AdamW and SGD updates (shaders/optim.wgsl). p, g, m, v, buf: (n) flat.
// `clip` is the (2) = [norm, scale] buffer from gradNorm; when given, g is multiplied by scale.

import type { GpuBuf } from '../gpu/arena.ts';
import type { Gpu } from '../gpu/gpu.ts';
import { f32, grid1d } from '../gpu/params.ts';
import type { KernelSpec } from '../gpu/registry.ts';

const WG = 256;
const K = {
  adamw: { shader: 'optim', entry: 'adamw', bindings: ['read', 'read', 'rw', 'rw', 'rw'] },
  sgd: { shader: 'optim', entry: 'sgd', bindings: ['read', 'read', 'rw', 'rw'] },
} as const satisfies Record<string, KernelSpec>;

export interface AdamWConfig {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

export const ADAMW_DEFAULTS: Omit<AdamWConfig, 'lr'> = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 };

/** One AdamW step number `t` (1-based). */
export function adamwStep(gpu: Gpu, p: GpuBuf, g: GpuBuf, m: GpuBuf, v: GpuBuf, n: number, t: number, cfg: AdamWConfig, clip?: GpuBuf): void {
  if (!Number.isInteger(t) || t < 1) throw new RangeError(`AdamW step t must be 1, 2, ...; got ${t}`);
  gpu.dispatch(K.adamw, {
    params: [n, clip ? 1 : 0, 0, f32(cfg.lr), f32(cfg.beta1), f32(cfg.beta2), f32(cfg.eps), f32(cfg.weightDecay),
      f32(1 - cfg.beta1 ** t), f32(1 - cfg.beta2 ** t)],
    // Without a clip buffer the scale binding is unused; g (read-only) stands in.
    buffers: [g, clip ?? g, p, m, v],
    grid: grid1d(n, WG),
  });
}

export interface SgdConfig {
  lr: number;
  momentum: number;
  dampening: number;
  weightDecay: number;
  nesterov: boolean;
}

/** One SGD step; `first` marks the first step (momentum buffer initialised to g). `buf` unused without momentum. */
export function sgdStep(gpu: Gpu, p: GpuBuf, g: GpuBuf, buf: GpuBuf, n: number, first: boolean, cfg: SgdConfig, clip?: GpuBuf): void {
  const flags = (first ? 1 : 0) | (cfg.nesterov ? 2 : 0) | (cfg.momentum !== 0 ? 4 : 0);
  gpu.dispatch(K.sgd, {
    params: [n, clip ? 1 : 0, flags, f32(cfg.lr), f32(cfg.momentum), f32(cfg.dampening), f32(0), f32(cfg.weightDecay), f32(1), f32(1)],
    buffers: [g, clip ?? g, p, buf],
    grid: grid1d(n, WG),
  });
}
