// Block-quantized weights on the GPU (shaders/quant.wgsl; formats in ../quant/block.ts):
// allocation and upload of host-quantized tensors, and the quantize / dequantize kernels.
// The matmuls through a quantized weight live in ./qmatmul.ts (re-exported here).

import type { Arena, GpuBuf } from '../gpu/arena.ts';
import type { Gpu } from '../gpu/gpu.ts';
import type { LedgerCategory } from '../gpu/ledger.ts';
import { grid1d } from '../gpu/params.ts';
import type { KernelSpec } from '../gpu/registry.ts';
import { blocksPerRow, codeBytes, type QuantFormat, type QuantTensor, scaleBytes } from '../quant/block.ts';

export { qmatmulBackward, qmatmulForward } from './qmatmul.ts';

/** A quantized (N, K) weight on the GPU, in the layout of ../quant/block.ts. */
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
const K = {
  quantize: { shader: 'quant', entry: 'quantize', bindings: ['read', 'rw', 'rw'] },
  dequantize: { shader: 'quant', entry: 'dequantize', bindings: ['read', 'read', 'rw'] },
  gather: { shader: 'quant', entry: 'gather', bindings: ['read', 'read', 'rw', 'read'] },
} as const satisfies Record<string, KernelSpec>;

/** The FORMAT override of quant.wgsl and qmatmul.wgsl. */
export const FORMAT_ID: Record<QuantFormat, number> = { q8: 0, q4: 1, nf4: 2 };

/** FORMAT override, omitted when it is the shaders' default (q4). */
export function formatOverride(f: QuantFormat): { FORMAT: number } | undefined {
  return f === 'q4' ? undefined : { FORMAT: FORMAT_ID[f] };
}

/** Allocate codes and scales for an (N, K) weight in format f. */
export async function allocQuant(
  arena: Arena, format: QuantFormat, N: number, K: number, label: string, category: LedgerCategory = 'weights',
): Promise<GpuQuantTensor> {
  const codes = await arena.alloc(category, codeBytes(N, K, format), `${label}.codes`);
  const scales = await arena.alloc(category, scaleBytes(N, K), `${label}.scales`);
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

function check(buf: GpuBuf, bytes: number, what: string): void {
  if (buf.size < bytes) throw new RangeError(`${what} needs ${bytes} bytes, ${buf.label} has ${buf.size}`);
}

/** out.codes, out.scales ← quantize(W), bit-identical to the host quantizeRows.  W: (N, K) f32 */
export function quantizeGpu(gpu: Gpu, W: GpuBuf, out: GpuQuantTensor): void {
  const { N, K: k, format } = out;
  if (N === 0 || k === 0) return;
  check(W, N * k * 4, `quantize ${N}x${k}: W`);
  check(out.codes, codeBytes(N, k, format), `quantize ${N}x${k}: codes`);
  check(out.scales, scaleBytes(N, k), `quantize ${N}x${k}: scales`);
  const pairs = Math.ceil((N * blocksPerRow(k)) / 2);
  gpu.dispatch(K.quantize, {
    params: [N, k, blocksPerRow(k)], buffers: [W, out.codes, out.scales], grid: grid1d(pairs, WG), overrides: formatOverride(format),
  });
}

/** W ← dequantize(q).  W: (N, K) f32 (for merging and export; training never needs it) */
export function dequantizeGpu(gpu: Gpu, q: GpuQuantTensor, W: GpuBuf): void {
  const { N, K: k } = q;
  if (N === 0 || k === 0) return;
  check(W, N * k * 4, `dequantize ${N}x${k}: W`);
  gpu.dispatch(K.dequantize, {
    params: [N, k, blocksPerRow(k)], buffers: [q.codes, q.scales, W], grid: grid1d(N * k, WG), overrides: formatOverride(q.format),
  });
}

/**
 * X[n] = dequantize(row ids[n] of q): an embedding lookup in a quantized table. The ids must
 * be valid rows (validateTokenIds).  ids: (M) u32, X: (M, K) f32
 */
export function gatherQuantRows(gpu: Gpu, q: GpuQuantTensor, ids: GpuBuf, X: GpuBuf, M: number): void {
  const { K: k } = q;
  if (M === 0 || k === 0) return;
  check(ids, M * 4, `gather ${M} rows: ids`);
  check(X, M * k * 4, `gather ${M}x${k}: X`);
  gpu.dispatch(K.gather, {
    params: [M, k, blocksPerRow(k)], buffers: [q.codes, q.scales, X, ids], grid: grid1d(M * k, WG), overrides: formatOverride(q.format),
  });
}
