// Block-quantized weights on the GPU (shaders/quant.wgsl; formats in ../quant/block.ts):
// upload, quantize / dequantize kernels, and the frozen base's matmuls through the
// quantized weight (forward Y = X·Wᵀ and backward to the input dX = dY·W).

import type { Arena, GpuBuf } from '../gpu/arena.ts';
import type { Gpu } from '../gpu/gpu.ts';
import type { LedgerCategory } from '../gpu/ledger.ts';
import { f32, grid1d } from '../gpu/params.ts';
import type { KernelSpec } from '../gpu/registry.ts';
import { blocksPerRow, type QuantFormat, type QuantTensor, wordsPerBlock } from '../quant/block.ts';

export interface GpuQuantTensor {
  format: QuantFormat;
  N: number;
  K: number;
  /** (N · KB · words per block) u32 */
  codes: GpuBuf;
  /** (ceil(N · KB / 2)) u32, two f16 each */
  scales: GpuBuf;
}

const WG = 64;
const TILE = 8; // WG_X = WG_Y = 8 in the shader
const K = {
  quantize: { shader: 'quant', entry: 'quantize', bindings: ['read', 'rw', 'rw'] },
  dequantize: { shader: 'quant', entry: 'dequantize', bindings: ['read', 'read', 'rw'] },
  fwd: { shader: 'quant', entry: 'fwd', bindings: ['read', 'read', 'read', 'rw'] },
  bwd: { shader: 'quant', entry: 'bwd', bindings: ['read', 'read', 'read', 'rw'] },
} as const satisfies Record<string, KernelSpec>;

const FORMAT_ID: Record<QuantFormat, number> = { q8: 0, q4: 1, nf4: 2 };

/** Allocate codes and scales for an (N, K) weight in format f. */
export async function allocQuant(
  arena: Arena, format: QuantFormat, N: number, K: number, label: string, category: LedgerCategory = 'weights',
): Promise<GpuQuantTensor> {
  const blocks = N * blocksPerRow(K);
  const codes = await arena.alloc(category, blocks * wordsPerBlock(format) * 4, `${label}.codes`);
  const scales = await arena.alloc(category, Math.ceil(blocks / 2) * 4, `${label}.scales`);
  return { format, N, K, codes, scales };
}

/** Upload a host-quantized tensor (the streaming loader's path). */
export async function uploadQuant(gpu: Gpu, q: QuantTensor, label: string, arena: Arena = gpu.arena, category: LedgerCategory = 'weights'): Promise<GpuQuantTensor> {
  const t = await allocQuant(arena, q.format, q.N, q.K, label, category);
  gpu.write(t.codes, q.codes);
  gpu.write(t.scales, q.scales);
  return t;
}

export function releaseQuant(t: GpuQuantTensor): void {
  t.codes.release();
  t.scales.release();
}

/** codes, scales ← quantize(W).  W: (N, K) f32 */
export function quantizeGpu(gpu: Gpu, W: GpuBuf, out: GpuQuantTensor): void {
  const pairs = Math.ceil((out.N * blocksPerRow(out.K)) / 2);
  gpu.dispatch(K.quantize, {
    params: [0, out.N, out.K, f32(0), blocksPerRow(out.K)], buffers: [W, out.codes, out.scales], grid: grid1d(pairs, WG), overrides: { FORMAT: FORMAT_ID[out.format] },
  });
}

/** W ← dequantize(q).  W: (N, K) f32 (for merging and export; training never needs it) */
export function dequantizeGpu(gpu: Gpu, q: GpuQuantTensor, W: GpuBuf): void {
  gpu.dispatch(K.dequantize, {
    params: [0, q.N, q.K, f32(0), blocksPerRow(q.K)], buffers: [q.codes, q.scales, W], grid: grid1d(q.N * q.K, WG), overrides: { FORMAT: FORMAT_ID[q.format] },
  });
}

/** Y = X·Wqᵀ + beta·Y.  X: (M, K), Y: (M, N) */
export function qmatmulForward(gpu: Gpu, X: GpuBuf, W: GpuQuantTensor, Y: GpuBuf, M: number, beta = 0): void {
  if (M === 0 || W.N === 0) return;
  gpu.dispatch(K.fwd, {
    params: [M, W.N, W.K, f32(beta), blocksPerRow(W.K)],
    buffers: [W.codes, W.scales, X, Y],
    grid: [Math.ceil(W.N / (8 * TILE)), Math.ceil(M / (8 * TILE))],
    overrides: { FORMAT: FORMAT_ID[W.format] },
  });
}

/** dX = dY·Wq + beta·dX.  dY: (M, N), dX: (M, K) */
export function qmatmulBackward(gpu: Gpu, dY: GpuBuf, W: GpuQuantTensor, dX: GpuBuf, M: number, beta = 0): void {
  if (M === 0 || W.K === 0) return;
  gpu.dispatch(K.bwd, {
    params: [M, W.N, W.K, f32(beta), blocksPerRow(W.K)],
    buffers: [W.codes, W.scales, dY, dX],
    grid: [Math.ceil(W.K / (8 * TILE)), Math.ceil(M / (8 * TILE))],
    overrides: { FORMAT: FORMAT_ID[W.format] },
  });
}
