// Rotary position embedding in place (shaders/rope.wgsl) and its inverse frequencies.
// x: (B, T, H, D); rotary dims R <= D (partial rotary leaves D − R dims as they are).

import type { GpuBuf } from '../gpu/arena.ts';
import type { Gpu } from '../gpu/gpu.ts';
import { f32, grid1d } from '../gpu/params.ts';
import type { KernelSpec } from '../gpu/registry.ts';
import type { RopeScaling } from '../model/config.ts';

const WG = 256;
const SPEC: KernelSpec = { shader: 'rope', entry: 'rope', bindings: ['read', 'rw'] };

/** The R/2 inverse frequencies, with transformers' default, linear and llama3 rules. */
export function ropeInvFreq(theta: number, R: number, scaling: RopeScaling = { type: 'default' }): Float32Array {
  const out = new Float32Array(R / 2);
  for (let i = 0; i < R / 2; i++) {
    let f = 1 / theta ** ((2 * i) / R);
    if (scaling.type === 'linear') f /= scaling.factor;
    else if (scaling.type === 'llama3') {
      const { factor, lowFreqFactor: lo, highFreqFactor: hi, originalMaxPositions: ctx } = scaling;
      const wavelen = (2 * Math.PI) / f;
      if (wavelen > ctx / lo) f /= factor; // low frequencies: scaled fully
      else if (wavelen >= ctx / hi) {
        // medium: interpolate between scaled and unscaled
        const smooth = (ctx / wavelen - lo) / (hi - lo);
        f = (1 - smooth) * (f / factor) + smooth * f;
      } // high frequencies: unchanged
    }
    out[i] = f;
  }
  return out;
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
  const rows = s.B * s.T * s.H;
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

/** dx ← ropeᵀ(dx) in place (rotation by the negative angle). */
export function ropeBackward(gpu: Gpu, invFreq: GpuBuf, dx: GpuBuf, s: RopeShape): void {
  dispatch(gpu, invFreq, dx, s, -1);
}
