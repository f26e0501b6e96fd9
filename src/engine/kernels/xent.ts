// Softmax cross-entropy over vocabulary chunks with an ignore mask (shaders/xent.wgsl).
// The full (rows, V) logits never need to exist at once. For logits produced Vc columns
// at a time (the last chunk may be narrower; Vc = V is one chunk):
//   for each chunk k: xentChunkForward(logits_k, vOffset = k·Vc, first = k === 0)
//   xentFinalize(...)                       → loss (rows; 0 where mask = 0), lse (rows)
//   for each chunk k: xentChunkBackward(...) → dlogits_k = (softmax − onehot)·scale, 0 where
//                                             mask = 0 (reads the state, not lse: see the shader)
// The mean over counted rows is `meanLoss` on the host (scale = 1 / counted rows gives its
// gradient). Targets must lie in [0, V): check host arrays with `validateTokenIds`.
//
// chunk_fwd has two variants: 'row' (a thread per row, barrier-free, the default and the
// fastest on SwiftShader) and 'wg' (a workgroup per row with a tree merge, for real GPUs
// and wide chunks); `tuneXent` measures them and makes the faster the default.

import type { GpuBuf } from '../gpu/arena.ts';
import type { AutotuneResult, Autotuner } from '../gpu/autotune.ts';
import type { Gpu } from '../gpu/gpu.ts';
import { f32, grid1d } from '../gpu/params.ts';
import type { KernelSpec } from '../gpu/registry.ts';

export const XENT_VARIANTS = ['row', 'wg'] as const;
export type XentVariant = (typeof XENT_VARIANTS)[number];

const WG = 64;
const K = {
  fwd: { shader: 'xent', entry: 'chunk_fwd', bindings: ['read', 'read', 'rw'] },
  fwdWg: { shader: 'xent', entry: 'chunk_fwd_wg', bindings: ['read', 'read', 'rw'] },
  fin: { shader: 'xent', entry: 'finalize', bindings: ['read', 'read', 'rw', 'rw'] },
  bwd: { shader: 'xent', entry: 'chunk_bwd', bindings: ['read', 'read', 'read', 'read', 'rw'] },
} as const satisfies Record<string, KernelSpec>;

/** Floats per row of the running state: max, Σ exp(x − max), target logit. */
export const XENT_STATE = 3;

const chosen = new WeakMap<GPUDevice, XentVariant>();

export function chosenXentVariant(gpu: Gpu): XentVariant | undefined {
  return chosen.get(gpu.device);
}

function need(buf: GpuBuf, n: number, what: string): void {
  if (buf.size < n * 4) throw new RangeError(`xent: ${what} needs ${n} values, ${buf.label} holds ${buf.size / 4}`);
}

/** Fold one chunk of logits (columns [vOffset, vOffset + Vc)) into the running state;
 *  `first` starts a new state instead of reading it.
 *  logits: (rows, Vc), targets: (rows) u32, state: (rows, 3) */
export function xentChunkForward(
  gpu: Gpu, logits: GpuBuf, targets: GpuBuf, state: GpuBuf, rows: number, Vc: number, vOffset: number, first: boolean, variant?: XentVariant,
): void {
  need(logits, rows * Vc, 'logits'); need(targets, rows, 'targets'); need(state, rows * XENT_STATE, 'state');
  if (Vc < 1) throw new RangeError('xent: a chunk needs at least one column');
  if (rows === 0) return;
  const v = variant ?? chosen.get(gpu.device) ?? 'row';
  gpu.dispatch(v === 'row' ? K.fwd : K.fwdWg, {
    params: [rows, Vc, vOffset, first ? 1 : 0, f32(0)],
    buffers: [logits, targets, state],
    grid: v === 'row' ? grid1d(rows, WG) : grid1d(rows, 1),
  });
}

/** lse = log Σ exp(logits); loss = mask ? lse − target logit : 0.
 *  state: (rows, 3), mask: (rows) u32 0/1, loss: (rows), lse: (rows) */
export function xentFinalize(gpu: Gpu, state: GpuBuf, mask: GpuBuf, loss: GpuBuf, lse: GpuBuf, rows: number): void {
  need(state, rows * XENT_STATE, 'state'); need(mask, rows, 'mask'); need(loss, rows, 'loss'); need(lse, rows, 'lse');
  if (rows === 0) return;
  gpu.dispatch(K.fin, { params: [rows, 0, 0, 0, f32(0)], buffers: [state, mask, loss, lse], grid: grid1d(rows, WG) });
}

/** dlogits = mask ? (softmax − onehot(target))·scale : 0 for one chunk (columns
 *  [vOffset, vOffset + Vc)), from the state left by every forward chunk.
 *  logits, dlogits: (rows, Vc), state: (rows, 3), targets, mask: (rows) u32 */
export function xentChunkBackward(
  gpu: Gpu, logits: GpuBuf, state: GpuBuf, targets: GpuBuf, mask: GpuBuf, dlogits: GpuBuf,
  rows: number, Vc: number, vOffset: number, scale: number,
): void {
  need(logits, rows * Vc, 'logits'); need(state, rows * XENT_STATE, 'state'); need(targets, rows, 'targets');
  need(mask, rows, 'mask'); need(dlogits, rows * Vc, 'dlogits');
  if (rows * Vc === 0) return;
  gpu.dispatch(K.bwd, { params: [rows, Vc, vOffset, 0, f32(scale)], buffers: [logits, state, targets, mask, dlogits], grid: grid1d(rows * Vc, WG) });
}

/** Mean of per-row losses over counted rows (0 when none count). */
export function meanLoss(loss: ArrayLike<number>, mask: ArrayLike<number>): number {
  let s = 0;
  let n = 0;
  for (let i = 0; i < loss.length; i++) {
    if (mask[i]) {
      s += loss[i];
      n++;
    }
  }
  return n ? s / n : 0;
}

/**
 * Measure both chunk_fwd variants at an lm-head-like chunk and make the faster the
 * default for this device. Cached per adapter by `tuner`.
 */
export async function tuneXent(gpu: Gpu, tuner: Autotuner, rows = 128, Vc = 8192): Promise<AutotuneResult<XentVariant>> {
  const arena = gpu.arena.child();
  try {
    const logits = await arena.alloc('scratch', rows * Vc * 4, 'tune-xent-logits');
    const targets = await arena.alloc('scratch', rows * 4, 'tune-xent-targets');
    const state = await arena.alloc('scratch', rows * XENT_STATE * 4, 'tune-xent-state');
    const r = await tuner.pick('xent', `rows=${rows} Vc=${Vc}`, XENT_VARIANTS, (v) => xentChunkForward(gpu, logits, targets, state, rows, Vc, 0, true, v));
    chosen.set(gpu.device, r.chosen);
    return r;
  } finally {
    arena.dispose();
  }
}
