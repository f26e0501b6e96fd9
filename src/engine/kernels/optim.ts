// AdamW and SGD updates (shaders/optim.wgsl), PyTorch semantics. p, g, m, v, buf: (n) flat.
// `clip` is the (2) = [norm, scale] buffer from gradNorm: when given, g is multiplied by scale
// on the GPU, and a non-finite norm skips the update (weights and state left untouched).

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
  /** Learning rate. */
  lr: number;
  /** Decay of the first moment (PyTorch betas[0]). */
  beta1: number;
  /** Decay of the second moment (PyTorch betas[1]). */
  beta2: number;
  /** Added to √v̂ (outside the square root, as PyTorch does). */
  eps: number;
  /** Decoupled weight decay: p ← p·(1 − lr·weightDecay) before the Adam step. */
  weightDecay: number;
}

export const ADAMW_DEFAULTS: Omit<AdamWConfig, 'lr'> = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 };

export interface SgdConfig {
  lr: number;
  /** 0 turns momentum off (the buffer is then neither read nor written). */
  momentum: number;
  dampening: number;
  /** L2 penalty added to the gradient (coupled, as in PyTorch SGD). */
  weightDecay: number;
  /** Nesterov momentum; needs momentum > 0 and dampening 0, as in PyTorch. */
  nesterov: boolean;
}

function checkSize(buf: GpuBuf, floats: number, what: string): void {
  if (buf.size < floats * 4) throw new RangeError(`optim: ${what} needs ${floats} floats, ${buf.label} holds ${buf.size / 4}`);
}

/**
 * One AdamW step number `t` (1-based). The coefficients (1 − β, 1 − lr·wd, lr / (1 − β1^t),
 * √(1 − β2^t)) are computed here in float64, as PyTorch computes them in Python floats.
 * p, g, m, v: (n); clip: (2) = [norm, scale] from gradNorm, optional.
 */
export function adamwStep(gpu: Gpu, p: GpuBuf, g: GpuBuf, m: GpuBuf, v: GpuBuf, n: number, t: number, cfg: AdamWConfig, clip?: GpuBuf): void {
  if (!Number.isInteger(t) || t < 1) throw new RangeError(`AdamW step t must be 1, 2, ...; got ${t}`);
  for (const [b, what] of [[p, 'p'], [g, 'g'], [m, 'm'], [v, 'v']] as const) checkSize(b, n, what);
  if (clip) checkSize(clip, 2, 'clip');
  gpu.dispatch(K.adamw, {
    // Shader Params order: n, useScale, flags, lr, beta1, beta2, omb1, omb2, eps, wd, decay, stepSize, bc2sqrt.
    params: [n, clip ? 1 : 0, 0, f32(cfg.lr), f32(cfg.beta1), f32(cfg.beta2), f32(1 - cfg.beta1), f32(1 - cfg.beta2),
      f32(cfg.eps), f32(cfg.weightDecay), f32(1 - cfg.lr * cfg.weightDecay), f32(cfg.lr / (1 - cfg.beta1 ** t)),
      f32(Math.sqrt(1 - cfg.beta2 ** t))],
    // Without a clip buffer the scale binding is unused; g (read-only) stands in.
    buffers: [g, clip ?? g, p, m, v],
    grid: grid1d(n, WG),
  });
}

/**
 * One SGD step; `first` marks the first step (the momentum buffer is set to the gradient, as
 * PyTorch does when it creates it). p, g, buf: (n); buf must be a buffer distinct from p and g
 * even without momentum (it is then untouched); clip: (2) from gradNorm, optional.
 */
export function sgdStep(gpu: Gpu, p: GpuBuf, g: GpuBuf, buf: GpuBuf, n: number, first: boolean, cfg: SgdConfig, clip?: GpuBuf): void {
  if (cfg.nesterov && (cfg.momentum <= 0 || cfg.dampening !== 0)) {
    throw new RangeError('SGD: Nesterov momentum needs momentum > 0 and dampening 0');
  }
  checkSize(p, n, 'p');
  checkSize(g, n, 'g');
  if (cfg.momentum !== 0) checkSize(buf, n, 'momentum buffer');
  if (clip) checkSize(clip, 2, 'clip');
  const flags = (first ? 1 : 0) | (cfg.nesterov ? 2 : 0) | (cfg.momentum !== 0 ? 4 : 0);
  gpu.dispatch(K.sgd, {
    params: [n, clip ? 1 : 0, flags, f32(cfg.lr), f32(cfg.momentum), f32(0), f32(1 - cfg.dampening), f32(0),
      f32(0), f32(cfg.weightDecay), f32(1), f32(0), f32(1)],
    buffers: [g, clip ?? g, p, buf],
    grid: grid1d(n, WG),
  });
}
