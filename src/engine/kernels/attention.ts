// Causal grouped-query attention forward and backward (shaders/attention.wgsl).
// Q, O, dQ, dO: (B, T, Hq, D); K, V, dK, dV: (B, Tk, Hkv, D); LSE, Drow: (B, Hq, T).

import type { GpuBuf } from '../gpu/arena.ts';
import type { Gpu } from '../gpu/gpu.ts';
import { f32, grid1d } from '../gpu/params.ts';
import type { KernelSpec } from '../gpu/registry.ts';

const WG = 64;
export const ATTENTION_MAX_HEAD_DIM = 128;
const K = {
  fwd: { shader: 'attention', entry: 'fwd', bindings: ['read', 'read', 'read', 'rw', 'rw'] },
  dq: { shader: 'attention', entry: 'dq', bindings: ['read', 'read', 'read', 'read', 'read', 'read', 'rw', 'rw'] },
  dkv: { shader: 'attention', entry: 'dkv', bindings: ['read', 'read', 'read', 'read', 'read', 'read', 'rw', 'rw'] },
} as const satisfies Record<string, KernelSpec>;

export interface AttentionShape {
  B: number;
  /** Query rows. */
  T: number;
  /** Key rows (T in training; cache length + T in generation). */
  Tk: number;
  Hq: number;
  Hkv: number;
  D: number;
  /** Default 1/√D. */
  scale?: number;
}

function params(s: AttentionShape) {
  if (s.Hq % s.Hkv !== 0) throw new RangeError(`attention: ${s.Hq} query heads are not a multiple of ${s.Hkv} kv heads`);
  if (s.D > ATTENTION_MAX_HEAD_DIM) throw new RangeError(`attention: head dim ${s.D} is over ${ATTENTION_MAX_HEAD_DIM}`);
  if (s.Tk < s.T) throw new RangeError(`attention: ${s.Tk} keys for ${s.T} queries; keys must include the queries' own positions`);
  return [s.B, s.T, s.Tk, s.Hq, s.Hkv, s.D, s.Tk - s.T, f32(s.scale ?? 1 / Math.sqrt(s.D))];
}

/** O, LSE from Q, K, V. */
export function attentionForward(gpu: Gpu, q: GpuBuf, k: GpuBuf, v: GpuBuf, o: GpuBuf, lse: GpuBuf, s: AttentionShape): void {
  gpu.dispatch(K.fwd, { params: params(s), buffers: [q, k, v, o, lse], grid: grid1d(s.B * s.Hq * s.T, WG) });
}

/** dQ, dK, dV from dO (Drow: (B, Hq, T) scratch written by the first pass, read by the second). */
export function attentionBackward(
  gpu: Gpu, q: GpuBuf, k: GpuBuf, v: GpuBuf, o: GpuBuf, dO: GpuBuf, lse: GpuBuf, drow: GpuBuf,
  dq: GpuBuf, dk: GpuBuf, dv: GpuBuf, s: AttentionShape,
): void {
  const prm = params(s);
  gpu.dispatch(K.dq, { params: prm, buffers: [q, k, v, o, dO, lse, drow, dq], grid: grid1d(s.B * s.Hq * s.T, WG) });
  gpu.dispatch(K.dkv, { params: prm, buffers: [q, k, v, dO, lse, drow, dk, dv], grid: grid1d(s.B * s.Hkv * s.Tk, WG) });
}
