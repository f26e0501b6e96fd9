// Rotary position embedding in place (shaders/rope.wgsl) and its inverse frequencies.
// x: (B, T, H, D), the natural layout of a linear projection reshaped into heads;
// rotary dims R <= D (partial rotary leaves the last D − R dims of each head as they are).
// Rotate-half pairing as Hugging Face Llama: dims (i, i + R/2), i < R/2.
// In place: forward rotates q / k where the projection wrote them, backward rotates dq / dk
// back (the rotation is orthogonal, so its transpose is the rotation by the negative angle).

import type { GpuBuf } from '../gpu/arena.ts';
import type { Gpu } from '../gpu/gpu.ts';
import { f32, grid1d } from '../gpu/params.ts';
import type { KernelSpec } from '../gpu/registry.ts';

const WG = 256;
const SPEC: KernelSpec = { shader: 'rope', entry: 'rope', bindings: ['read', 'rw'] };

const r32 = Math.fround;

/** RoPE frequency scaling as a checkpoint's config.json gives it (model/config.ts reads it). */
export type RopeScaling =
  | { type: 'default' }
  | { type: 'linear'; factor: number }
  | { type: 'llama3'; factor: number; lowFreqFactor: number; highFreqFactor: number; originalMaxPositions: number };

/**
 * The R/2 inverse frequencies (R even), as transformers' modeling_rope_utils computes them
 * for rope_type 'default' (θ^(−2i/R)), 'linear' (divided by factor) and 'llama3' (by
 * wavelength λ = 2π/f: λ < ctx/high unchanged, λ > ctx/low divided by factor, in between
 * (1 − s)·f/factor + s·f with s = (ctx/λ − low)/(high − low)). Each step is rounded to f32
 * as torch does in float32 (the exponent 2i/R included), so the values agree with
 * transformers' inv_freq to about one ulp (torch's powf), which matters at long positions
 * where the angle pos·f amplifies it.
 */
export function ropeInvFreq(theta: number, R: number, scaling: RopeScaling = { type: 'default' }): Float32Array {
  if (R % 2 !== 0 || R < 2) throw new RangeError(`rope: rotary dims ${R} must be even and positive`);
  const out = new Float32Array(R / 2);
  for (let i = 0; i < R / 2; i++) {
    let f = r32(1 / r32(theta ** r32((2 * i) / R)));
    if (scaling.type === 'linear') f = r32(f / scaling.factor);
    else if (scaling.type === 'llama3') {
      const { factor, lowFreqFactor: lo, highFreqFactor: hi, originalMaxPositions: ctx } = scaling;
      // torch evaluates `2π / inv_freq` as reciprocal(inv_freq) · 2π, in f32.
      const wavelen = r32(r32(1 / f) * r32(2 * Math.PI));
      if (wavelen > r32(ctx / lo)) f = r32(f / factor); // low frequency: scaled fully
      else if (!(wavelen < r32(ctx / hi))) {
        // medium frequency: interpolate between scaled and unscaled
        const s = r32(r32(r32(r32(1 / wavelen) * ctx) - lo) / r32(hi - lo));
        f = r32(r32(r32(r32(1 - s) * f) / factor) + r32(s * f));
      } // high frequency: unchanged
    }
    out[i] = f;
  }
  return out;
}

/**
 * transformers' attention_factor (the scale it multiplies cos and sin by) for the supported
 * scalings: 1 for 'default', 'linear' and 'llama3' (only yarn / longrope, not supported
 * here, return anything else), so the kernel applies no such factor.
 */
export function ropeAttentionScaling(_scaling: RopeScaling): number {
  return 1;
}

export interface RopeShape {
  B: number;
  T: number;
  H: number;
  D: number;
  /** Rotary dims (even, <= D). */
  R: number;
  /** Position of token 0 (KV-cached generation continues from the cache length). */
  posOffset: number;
}

function dispatch(gpu: Gpu, invFreq: GpuBuf, x: GpuBuf, s: RopeShape, sign: number): void {
  if (s.R % 2 !== 0 || s.R > s.D) throw new RangeError(`rope: rotary dims ${s.R} must be even and <= head dim ${s.D}`);
  if (!Number.isInteger(s.posOffset) || s.posOffset < 0) throw new RangeError(`rope: position offset ${s.posOffset} must be a non-negative integer`);
  const rows = s.B * s.T * s.H;
  if (rows === 0 || s.R === 0) return;
  gpu.dispatch(SPEC, {
    params: [rows, s.T, s.H, s.D, s.R, s.posOffset, f32(sign)],
    buffers: [invFreq, x],
    grid: grid1d(rows * (s.R / 2), WG),
  });
}

/** x ← rope(x) in place.  invFreq: (R/2), x: (B, T, H, D) */
export function ropeForward(gpu: Gpu, invFreq: GpuBuf, x: GpuBuf, s: RopeShape): void {
  dispatch(gpu, invFreq, x, s, 1);
}

/** dx ← ropeᵀ(dx) in place (rotation by the negative angle).  invFreq: (R/2), dx: (B, T, H, D) */
export function ropeBackward(gpu: Gpu, invFreq: GpuBuf, dx: GpuBuf, s: RopeShape): void {
  dispatch(gpu, invFreq, dx, s, -1);
}
