// Softmax cross-entropy over vocabulary chunks with an ignore mask (shaders/xent.wgsl).
// Usage for logits produced Vc columns at a time:
//   for each chunk k: xentChunkForward(..., vOffset = k·Vc, first = k === 0)
//   xentFinalize(...)                       → loss (rows), lse (rows)
//   for each chunk k: xentChunkBackward(...) → dlogits for that chunk (reads the state)
// The mean loss over counted rows is `meanLoss` on the host (or any reduction kernel).

import type { GpuBuf } from '../gpu/arena.ts';
import type { Gpu } from '../gpu/gpu.ts';
import { f32, grid1d } from '../gpu/params.ts';
import type { KernelSpec } from '../gpu/registry.ts';

const WG = 64;
const K = {
  fwd: { shader: 'xent', entry: 'chunk_fwd', bindings: ['read', 'read', 'rw'] },
  fin: { shader: 'xent', entry: 'finalize', bindings: ['read', 'read', 'rw', 'rw'] },
  bwd: { shader: 'xent', entry: 'chunk_bwd', bindings: ['read', 'read', 'read', 'read', 'rw'] },
} as const satisfies Record<string, KernelSpec>;

/** Fold one chunk into the running state.  logits: (rows, Vc), targets: (rows) u32, state: (rows, 3) */
export function xentChunkForward(
  gpu: Gpu, logits: GpuBuf, targets: GpuBuf, state: GpuBuf, rows: number, Vc: number, vOffset: number, first: boolean,
): void {
  gpu.dispatch(K.fwd, { params: [rows, Vc, vOffset, first ? 1 : 0, f32(0)], buffers: [logits, targets, state], grid: grid1d(rows, WG) });
}

/** loss = mask ? lse − target logit : 0.  state: (rows, 3), mask: (rows) u32, loss, lse: (rows) */
export function xentFinalize(gpu: Gpu, state: GpuBuf, mask: GpuBuf, loss: GpuBuf, lse: GpuBuf, rows: number): void {
  gpu.dispatch(K.fin, { params: [rows, 0, 0, 0, f32(0)], buffers: [state, mask, loss, lse], grid: grid1d(rows, WG) });
}

/** dlogits = mask ? (softmax − onehot)·scale : 0 for one chunk.  logits, dlogits: (rows, Vc),
 *  state: (rows, 3) as left by the forward chunks. */
export function xentChunkBackward(
  gpu: Gpu, logits: GpuBuf, state: GpuBuf, targets: GpuBuf, mask: GpuBuf, dlogits: GpuBuf,
  rows: number, Vc: number, vOffset: number, scale: number,
): void {
  gpu.dispatch(K.bwd, { params: [rows, Vc, vOffset, 0, f32(scale)], buffers: [logits, state, targets, mask, dlogits], grid: grid1d(rows * Vc, WG) });
}

/** Mean of per-row losses over counted rows (0 when none count). */
export function meanLoss(loss: ArrayLike<number>, mask: ArrayLike<number>): number {
  let s = 0;
  let n = 0;
  for (let i = 0; i < loss.length; i++) if (mask[i]) (s += loss[i]), n++;
  return n ? s / n : 0;
}
