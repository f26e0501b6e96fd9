// DoRA's per-output-row kernels (shaders/dora.wgsl): row norms of a weight, the detached
// norm n = ‖W + s·B·A‖ per output row from low-rank pieces, the rescale of a linear
// layer's output y' = (m / n) ⊙ (x·Wᵀ + s·x·Aᵀ·Bᵀ) + b, and its backward pieces.
// Plain-loop references: ./dora.ref.ts. Shapes in each function's comment.

import type { GpuBuf } from '../gpu/arena.ts';
import type { Gpu } from '../gpu/gpu.ts';
import { f32, grid1d } from '../gpu/params.ts';
import type { KernelSpec } from '../gpu/registry.ts';

const WG = 64;
const K = {
  sumsq: { shader: 'dora', entry: 'sumsq', bindings: ['read', 'rw'] },
  sqrtInto: { shader: 'dora', entry: 'sqrt_into', bindings: ['read', 'rw'] },
  norm: { shader: 'dora', entry: 'norm', bindings: ['read', 'read', 'read', 'read', 'read', 'rw', 'rw'] },
  combine: { shader: 'dora', entry: 'combine', bindings: ['read', 'read', 'rw', 'rw'] },
  bwdScale: { shader: 'dora', entry: 'bwd_scale', bindings: ['read', 'read', 'rw', 'rw'] },
  bwdDm: { shader: 'dora', entry: 'bwd_dm', bindings: ['read', 'read', 'read', 'rw'] },
} as const satisfies Record<string, KernelSpec>;

function need(buf: GpuBuf, floats: number, what: string): void {
  if (buf.size < floats * 4) throw new RangeError(`dora ${what} needs ${floats} floats, ${buf.label} has ${buf.size / 4}`);
}

/** Params in the shader's order: n, rows, cols, r, sRow, sCol, s, beta. */
function params(o: { n?: number; rows?: number; cols?: number; r?: number; sRow?: number; sCol?: number; s?: number; beta?: number }) {
  return [o.n ?? 0, o.rows ?? 0, o.cols ?? 0, o.r ?? 0, o.sRow ?? 0, o.sCol ?? 0, f32(o.s ?? 0), f32(o.beta ?? 0)];
}

export interface SumsqShape {
  /** Terms per output (the input dimension). */
  rows: number;
  /** Outputs. */
  cols: number;
  /** Element (j, o) sits at j·sRow + o·sCol. */
  sRow: number;
  sCol: number;
  /** w2 = beta·w2 + Σ (beta = 0 never reads w2). */
  beta?: number;
}

/** w2[o] = beta·w2[o] + Σ_j W[j·sRow + o·sCol]².  (out, in) weight: rows = in, sRow = 1,
 *  sCol = in; (in, out) weight or (rows, out) row blocks: sRow = out, sCol = 1. */
export function doraSumsq(gpu: Gpu, W: GpuBuf, w2: GpuBuf, s: SumsqShape): void {
  if (s.cols === 0) return;
  need(W, (s.rows - 1) * s.sRow + (s.cols - 1) * s.sCol + 1, 'sumsq W');
  need(w2, s.cols, 'sumsq w2');
  gpu.dispatch(K.sumsq, { params: params(s), buffers: [W, w2], grid: grid1d(s.cols, WG) });
}

/** m = sqrt(w2).  (out) */
export function doraSqrt(gpu: Gpu, w2: GpuBuf, m: GpuBuf, out: number): void {
  need(w2, out, 'sqrt w2');
  need(m, out, 'sqrt m');
  gpu.dispatch(K.sqrtInto, { params: params({ cols: out }), buffers: [w2, m], grid: grid1d(out, WG) });
}

/**
 * n_o = sqrt(w2[o] + Σ_k B[o,k]·(2s·P[k,o] + s²·H[o,k])), c = m / n, inv = 1 / n.
 * w2 = ‖W_o‖²: (out); B: (out, r); P = A·Wᵀ: (r, out); H = B·(A·Aᵀ): (out, r); m, c, inv: (out)
 */
export function doraNorm(gpu: Gpu, w2: GpuBuf, B: GpuBuf, P: GpuBuf, H: GpuBuf, m: GpuBuf, c: GpuBuf, inv: GpuBuf, out: number, r: number, s: number): void {
  if (out === 0) return;
  for (const [b, n, w] of [[w2, out, 'w2'], [B, out * r, 'B'], [P, r * out, 'P'], [H, out * r, 'H'], [m, out, 'm'], [c, out, 'c'], [inv, out, 'inv']] as const) need(b, n, `norm ${w}`);
  gpu.dispatch(K.norm, { params: params({ cols: out, r, s }), buffers: [w2, B, P, H, m, c, inv], grid: grid1d(out, WG) });
}

/**
 * v = y − b + z → z;  y = c ⊙ v + b (per column).  y: (rows, cols) base output x·Wᵀ + b;
 * z: (rows, cols) s·x·Aᵀ·Bᵀ in, v out; b, c: (cols). No bias: b undefined.
 */
export function doraCombine(gpu: Gpu, b: GpuBuf | undefined, c: GpuBuf, z: GpuBuf, y: GpuBuf, rows: number, cols: number): void {
  const n = rows * cols;
  if (n === 0) return;
  need(c, cols, 'combine c');
  need(z, n, 'combine z');
  need(y, n, 'combine y');
  if (b) need(b, cols, 'combine b');
  gpu.dispatch(K.combine, {
    params: params({ n, cols }), buffers: [b ?? c, c, z, y], grid: grid1d(n, WG), overrides: b ? { HAS_BIAS: 1 } : undefined,
  });
}

/** dv = c ⊙ dy, e = (c − 1) ⊙ dy (per column).  dy, dv, e: (rows, cols); c: (cols) */
export function doraBackwardScale(gpu: Gpu, dy: GpuBuf, c: GpuBuf, dv: GpuBuf, e: GpuBuf, rows: number, cols: number): void {
  const n = rows * cols;
  if (n === 0) return;
  for (const [b, k, w] of [[dy, n, 'dy'], [c, cols, 'c'], [dv, n, 'dv'], [e, n, 'e']] as const) need(b, k, `bwd_scale ${w}`);
  gpu.dispatch(K.bwdScale, { params: params({ n, cols }), buffers: [dy, c, dv, e], grid: grid1d(n, WG) });
}

/** dm[o] = inv[o] · Σ_j dy[j,o]·v[j,o].  dy, v: (rows, cols); inv, dm: (cols) */
export function doraMagnitudeGrad(gpu: Gpu, dy: GpuBuf, v: GpuBuf, inv: GpuBuf, dm: GpuBuf, rows: number, cols: number): void {
  if (cols === 0) return;
  for (const [b, k, w] of [[dy, rows * cols, 'dy'], [v, rows * cols, 'v'], [inv, cols, 'inv'], [dm, cols, 'dm']] as const) need(b, k, `bwd_dm ${w}`);
  gpu.dispatch(K.bwdDm, { params: params({ rows, cols }), buffers: [dy, v, inv, dm], grid: grid1d(cols, WG) });
}
