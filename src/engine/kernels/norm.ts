// RMSNorm (Llama convention: y = x·rstd·w) and LayerNorm (GPT-2) forward and backward
// (shaders/norm.wgsl). x, y, dy, dx: (rows, C) with rows = B·T; w, b, dw, db: (C);
// mean, rstd: (rows), saved by the forward for the backward.
//
// Two variants of every kernel, same math:
//   'row' one thread per row (and one per column for dw / db): barrier-free, the fastest
//         on SwiftShader; the default.
//   'wg'  one workgroup per row with a tree reduction (and a workgroup per 32 columns with
//         8 row lanes for dw / db): what a real GPU wants when rows·C is large.
// `tuneNorm` measures both on this adapter and makes the faster the default; any call may
// also name a variant.

import type { GpuBuf } from '../gpu/arena.ts';
import type { AutotuneResult, Autotuner } from '../gpu/autotune.ts';
import type { Gpu } from '../gpu/gpu.ts';
import { f32, grid1d } from '../gpu/params.ts';
import type { KernelSpec, StorageAccess } from '../gpu/registry.ts';

export const NORM_VARIANTS = ['row', 'wg'] as const;
export type NormVariant = (typeof NORM_VARIANTS)[number];

/** Threads per workgroup in the 'row' variant (WG in the shader). */
const WG = 64;
/** Columns per workgroup in the 'wg' weight-gradient kernels (WC in the shader). */
const WC = 32;

type Entry = 'rms_fwd' | 'ln_fwd' | 'rms_bwd' | 'ln_bwd' | 'rms_wgrad' | 'ln_wgrad';
const BINDINGS: Record<Entry, readonly StorageAccess[]> = {
  rms_fwd: ['read', 'read', 'rw', 'rw'],
  ln_fwd: ['read', 'read', 'read', 'rw', 'rw', 'rw'],
  rms_bwd: ['read', 'read', 'read', 'read', 'rw'],
  ln_bwd: ['read', 'read', 'read', 'read', 'read', 'rw'],
  rms_wgrad: ['read', 'read', 'read', 'rw'],
  ln_wgrad: ['read', 'read', 'read', 'read', 'rw', 'rw'],
};

function spec(entry: Entry, v: NormVariant): KernelSpec {
  return { shader: 'norm', entry: v === 'row' ? entry : `${entry}_wg`, bindings: BINDINGS[entry] };
}

/** The tuned variant per device (set by `tuneNorm`). */
const chosen = new WeakMap<GPUDevice, NormVariant>();

export function chosenNormVariant(gpu: Gpu): NormVariant | undefined {
  return chosen.get(gpu.device);
}

function need(buf: GpuBuf, floats: number, what: string): void {
  if (buf.size < floats * 4) throw new RangeError(`norm: ${what} needs ${floats} floats, ${buf.label} holds ${buf.size / 4}`);
}

/** A kernel over rows: a thread per row ('row') or a workgroup per row ('wg'). */
function perRow(gpu: Gpu, entry: Entry, buffers: GpuBuf[], rows: number, C: number, eps: number, v: NormVariant): void {
  if (rows === 0 || C === 0) return;
  gpu.dispatch(spec(entry, v), {
    params: [rows, C, f32(eps), f32(0)],
    buffers,
    grid: v === 'row' ? grid1d(rows, WG) : grid1d(rows, 1),
  });
}

/** A weight-gradient kernel over columns: a thread per column ('row') or WC columns per workgroup ('wg'). */
function perColumn(gpu: Gpu, entry: Entry, buffers: GpuBuf[], rows: number, C: number, beta: number, v: NormVariant): void {
  if (C === 0) return;
  gpu.dispatch(spec(entry, v), {
    params: [rows, C, f32(0), f32(beta)],
    buffers,
    grid: v === 'row' ? grid1d(C, WG) : [Math.ceil(C / WC)],
  });
}

/** y = x · rstd · w, rstd = 1/√(mean(x²) + eps), saved per row.
 *  x: (rows, C), w: (C), y: (rows, C), rstd: (rows) */
export function rmsNormForward(
  gpu: Gpu, x: GpuBuf, w: GpuBuf, y: GpuBuf, rstd: GpuBuf, rows: number, C: number, eps: number, variant?: NormVariant,
): void {
  need(x, rows * C, 'x'); need(w, C, 'w'); need(y, rows * C, 'y'); need(rstd, rows, 'rstd');
  perRow(gpu, 'rms_fwd', [x, w, y, rstd], rows, C, eps, variant ?? chosen.get(gpu.device) ?? 'row');
}

/** dx from dy; dw = beta·dw + Σ_rows dy·x·rstd (beta = 0 overwrites dw without reading it).
 *  dy, x, dx: (rows, C), w, dw: (C), rstd: (rows) from the forward */
export function rmsNormBackward(
  gpu: Gpu, dy: GpuBuf, x: GpuBuf, w: GpuBuf, rstd: GpuBuf, dx: GpuBuf, dw: GpuBuf, rows: number, C: number, beta = 0, variant?: NormVariant,
): void {
  need(dy, rows * C, 'dy'); need(x, rows * C, 'x'); need(w, C, 'w'); need(rstd, rows, 'rstd'); need(dx, rows * C, 'dx'); need(dw, C, 'dw');
  const v = variant ?? chosen.get(gpu.device) ?? 'row';
  perRow(gpu, 'rms_bwd', [dy, x, w, rstd, dx], rows, C, 0, v);
  perColumn(gpu, 'rms_wgrad', [dy, x, rstd, dw], rows, C, beta, v);
}

/** y = (x − mean)·rstd·w + b, rstd = 1/√(var(x) + eps); mean and rstd saved per row.
 *  x, y: (rows, C), w, b: (C), mean, rstd: (rows) */
export function layerNormForward(
  gpu: Gpu, x: GpuBuf, w: GpuBuf, b: GpuBuf, y: GpuBuf, mean: GpuBuf, rstd: GpuBuf, rows: number, C: number, eps: number, variant?: NormVariant,
): void {
  need(x, rows * C, 'x'); need(w, C, 'w'); need(b, C, 'b'); need(y, rows * C, 'y'); need(mean, rows, 'mean'); need(rstd, rows, 'rstd');
  perRow(gpu, 'ln_fwd', [x, w, b, y, mean, rstd], rows, C, eps, variant ?? chosen.get(gpu.device) ?? 'row');
}

/** dx from dy; dw = beta·dw + Σ_rows dy·x̂, db = beta·db + Σ_rows dy (x̂ = (x − mean)·rstd).
 *  dy, x, dx: (rows, C), w, dw, db: (C), mean, rstd: (rows) from the forward */
export function layerNormBackward(
  gpu: Gpu, dy: GpuBuf, x: GpuBuf, w: GpuBuf, mean: GpuBuf, rstd: GpuBuf, dx: GpuBuf, dw: GpuBuf, db: GpuBuf,
  rows: number, C: number, beta = 0, variant?: NormVariant,
): void {
  need(dy, rows * C, 'dy'); need(x, rows * C, 'x'); need(w, C, 'w'); need(mean, rows, 'mean'); need(rstd, rows, 'rstd');
  need(dx, rows * C, 'dx'); need(dw, C, 'dw'); need(db, C, 'db');
  const v = variant ?? chosen.get(gpu.device) ?? 'row';
  perRow(gpu, 'ln_bwd', [dy, x, w, mean, rstd, dx], rows, C, 0, v);
  perColumn(gpu, 'ln_wgrad', [dy, x, mean, rstd, dw, db], rows, C, beta, v);
}

/**
 * Measure both variants (RMSNorm forward + backward) at a model-like shape and make the
 * faster the default for this device. Cached per adapter by `tuner`.
 */
export async function tuneNorm(gpu: Gpu, tuner: Autotuner, rows = 256, C = 576): Promise<AutotuneResult<NormVariant>> {
  const arena = gpu.arena.child();
  try {
    const big = () => arena.alloc('scratch', rows * C * 4, 'tune-norm');
    const [x, y, dx] = [await big(), await big(), await big()];
    const [w, dw] = [await arena.alloc('scratch', C * 4, 'tune-norm-w'), await arena.alloc('scratch', C * 4, 'tune-norm-dw')];
    const rstd = await arena.alloc('scratch', rows * 4, 'tune-norm-rstd');
    const run = (v: NormVariant) => {
      rmsNormForward(gpu, x, w, y, rstd, rows, C, 1e-5, v);
      rmsNormBackward(gpu, y, x, w, rstd, dx, dw, rows, C, 0, v);
    };
    const r = await tuner.pick('norm', `rows=${rows} C=${C}`, NORM_VARIANTS, run);
    chosen.set(gpu.device, r.chosen);
    return r;
  } finally {
    arena.dispose();
  }
}
