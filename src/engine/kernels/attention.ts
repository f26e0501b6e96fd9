// Causal grouped-query attention forward and backward (shaders/attention.wgsl), never
// forming a T×T score matrix.
// Q, O, dQ, dO: (B, T, Hq, D); K, V, dK, dV: (B, Tk, Hkv, D); LSE, Drow: (B, Hq, T).
// Query head h reads kv head ⌊h / (Hq/Hkv)⌋; query i sits at position Tk − T + i and sees
// keys 0 ..= Tk − T + i (Tk = T in training; Tk = cache length + T in generation).
//
// Variants (same results; chosen by D, not measured):
//   'row'   one thread per query row (per key row in dK/dV), scalar loops: any D <= 128.
//   'row4'  the same passes reading and accumulating four dims at a time as vec4, with
//           several rows per thread sharing each K/V (Q/dO) row loaded (4 query rows in the
//           forward, 2 query rows in dQ, 2 key rows in dK/dV): D % 4 == 0. Three to four
//           times faster on SwiftShader (forward), whose per-lane loads bound the speed.

import type { GpuBuf } from '../gpu/arena.ts';
import type { Gpu } from '../gpu/gpu.ts';
import { f32, grid1d, type Param } from '../gpu/params.ts';
import type { KernelSpec } from '../gpu/registry.ts';

const WG = 64;
/** Largest head dim: the private accumulators in attention.wgsl hold 128 floats. */
export const ATTENTION_MAX_HEAD_DIM = 128;

export type AttentionVariant = 'row' | 'row4';

const R5 = ['read', 'read', 'read', 'rw', 'rw'] as const;
const R8 = ['read', 'read', 'read', 'read', 'read', 'read', 'rw', 'rw'] as const;
const K = {
  row: {
    fwd: { shader: 'attention', entry: 'fwd', bindings: R5 },
    dq: { shader: 'attention', entry: 'dq', bindings: R8 },
    dkv: { shader: 'attention', entry: 'dkv', bindings: R8 },
  },
  row4: {
    fwd: { shader: 'attention', entry: 'fwd4', bindings: R5 },
    dq: { shader: 'attention', entry: 'dq4', bindings: R8 },
    dkv: { shader: 'attention', entry: 'dkv4', bindings: R8 },
  },
} as const satisfies Record<AttentionVariant, Record<string, KernelSpec>>;

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

/** 'row4' where D allows it, else 'row'. */
export function attentionVariant(D: number): AttentionVariant {
  return D % 4 === 0 ? 'row4' : 'row';
}

function params(s: AttentionShape, variant: AttentionVariant): Param[] {
  if (s.Hq % s.Hkv !== 0) throw new RangeError(`attention: ${s.Hq} query heads are not a multiple of ${s.Hkv} kv heads`);
  if (s.D > ATTENTION_MAX_HEAD_DIM) throw new RangeError(`attention: head dim ${s.D} is over ${ATTENTION_MAX_HEAD_DIM}`);
  if (s.Tk < s.T) throw new RangeError(`attention: ${s.Tk} keys for ${s.T} queries; keys must include the queries' own positions`);
  if (variant !== 'row' && s.D % 4 !== 0) throw new RangeError(`attention: the row4 variant needs a head dim divisible by 4, not ${s.D}`);
  return [s.B, s.T, s.Tk, s.Hq, s.Hkv, s.D, s.Tk - s.T, f32(s.scale ?? 1 / Math.sqrt(s.D))];
}

/**
 * O, LSE from Q, K, V (LSE_i = log Σ_j exp(scale·q_i·k_j), saved for the backward).
 * q: (B, T, Hq, D), k, v: (B, Tk, Hkv, D), o: (B, T, Hq, D), lse: (B, Hq, T)
 */
export function attentionForward(
  gpu: Gpu, q: GpuBuf, k: GpuBuf, v: GpuBuf, o: GpuBuf, lse: GpuBuf, s: AttentionShape,
  variant: AttentionVariant = attentionVariant(s.D),
): void {
  if (s.B * s.T * s.Hq === 0) return;
  const rows = variant === 'row4' ? Math.ceil(s.T / 4) : s.T; // query rows per thread: 4 or 1
  gpu.dispatch(K[variant].fwd, { params: params(s, variant), buffers: [q, k, v, o, lse], grid: grid1d(s.B * s.Hq * rows, WG) });
}

/**
 * dQ, dK, dV from dO in two passes: dq (per query row; also writes Drow = rowsum(dO ⊙ O))
 * then dkv (per key row, reading Drow). Every output element is written (no accumulation).
 * q, o, dO, dq: (B, T, Hq, D), k, v, dk, dv: (B, Tk, Hkv, D), lse (from the forward), drow: (B, Hq, T)
 */
export function attentionBackward(
  gpu: Gpu, q: GpuBuf, k: GpuBuf, v: GpuBuf, o: GpuBuf, dO: GpuBuf, lse: GpuBuf, drow: GpuBuf,
  dq: GpuBuf, dk: GpuBuf, dv: GpuBuf, s: AttentionShape,
  variant: AttentionVariant = attentionVariant(s.D),
): void {
  const prm = params(s, variant);
  const per = variant === 'row' ? 1 : 2; // rows per thread
  if (s.B * s.T * s.Hq > 0)
    gpu.dispatch(K[variant].dq, { params: prm, buffers: [q, k, v, o, dO, lse, drow, dq], grid: grid1d(s.B * s.Hq * Math.ceil(s.T / per), WG) });
  if (s.B * s.Tk * s.Hkv > 0)
    gpu.dispatch(K[variant].dkv, { params: prm, buffers: [q, k, v, dO, lse, drow, dk, dv], grid: grid1d(s.B * s.Hkv * Math.ceil(s.Tk / per), WG) });
}

// ---- flash-decoding (shaders/attention_decode.wgsl) ----------------------------------------

/** Query rows up to which `attentionDecode` applies (a generated token, a short prompt). */
export const DECODE_MAX_ROWS = 8;
/** Splits of the keys at most, and keys per split at least. */
export const DECODE_MAX_SPLITS = 32;
const DECODE_MIN_CHUNK = 32;

const DEC = {
  split: { shader: 'attention_decode', entry: 'split', bindings: ['read', 'read', 'read', 'rw'] },
  combine: { shader: 'attention_decode', entry: 'combine', bindings: ['read', 'rw', 'rw'] },
} as const satisfies Record<string, KernelSpec>;

/** How `attentionDecode` splits Tk keys: S splits of CH keys (the last may be shorter). */
export function decodeSplits(Tk: number): { S: number; CH: number } {
  const CH = Math.max(DECODE_MIN_CHUNK, Math.ceil(Tk / DECODE_MAX_SPLITS));
  return { S: Math.max(1, Math.ceil(Tk / CH)), CH };
}

/** Floats of the scratch `attentionDecode` needs for any Tk and T <= DECODE_MAX_ROWS. */
export function attentionDecodeScratchFloats(Hq: number, D: number): number {
  return DECODE_MAX_ROWS * Hq * DECODE_MAX_SPLITS * (D + 4);
}

/** Whether `attentionDecode` takes this shape (B = 1, T <= 8, D % 4 == 0). */
export function decodeApplies(s: AttentionShape): boolean {
  return s.B === 1 && s.T <= DECODE_MAX_ROWS && s.D % 4 === 0;
}

/**
 * Flash-decoding: O, LSE of T <= 8 query rows over Tk cached keys, split across the keys
 * (S = decodeSplits(Tk).S partial softmaxes per row and head) and combined; the same results
 * as `attentionForward`. q, o: (T, Hq, D); k, v: (>= Tk, Hkv, D); lse: (Hq, T);
 * part: attentionDecodeScratchFloats(Hq, D) floats of scratch.
 */
export function attentionDecode(gpu: Gpu, q: GpuBuf, k: GpuBuf, v: GpuBuf, o: GpuBuf, lse: GpuBuf, part: GpuBuf, s: AttentionShape): void {
  if (!decodeApplies(s)) throw new RangeError(`attention decode: needs B = 1, T <= ${DECODE_MAX_ROWS} and a head dim divisible by 4 (B=${s.B} T=${s.T} D=${s.D})`);
  params(s, 'row4'); // the shape checks
  const { S, CH } = decodeSplits(s.Tk);
  const need = (b: GpuBuf, n: number, what: string) => {
    if (b.size < n * 4) throw new RangeError(`attention decode: ${what} needs ${n} floats, ${b.label} has ${b.size / 4}`);
  };
  need(q, s.T * s.Hq * s.D, 'q'); need(o, s.T * s.Hq * s.D, 'o'); need(lse, s.T * s.Hq, 'lse');
  need(k, s.Tk * s.Hkv * s.D, 'k'); need(v, s.Tk * s.Hkv * s.D, 'v');
  need(part, s.T * s.Hq * S * (s.D + 4), 'part');
  if (s.T === 0) return;
  const prm = [s.T, s.Tk, s.Hq, s.Hkv, s.D, s.Tk - s.T, S, CH, f32(s.scale ?? 1 / Math.sqrt(s.D))];
  gpu.dispatch(DEC.split, { params: prm, buffers: [q, k, v, part], grid: grid1d(s.T * s.Hq * S, WG) });
  gpu.dispatch(DEC.combine, { params: prm, buffers: [part, o, lse], grid: grid1d(s.T * s.Hq, WG) });
}
