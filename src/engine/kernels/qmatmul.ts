// Matmuls through a frozen block-quantized weight (shaders/qmatmul.wgsl): the forward of a
// quantized linear layer Y = X·Wqᵀ and its backward to the input dX = dY·Wq. The weight is
// decoded block by block in registers, never expanded to f32 in memory. `qgemv` is the
// forward for M <= 8 rows of X (decoding): a thread per 4 rows of Wq, each code word read once.

import type { GpuBuf } from '../gpu/arena.ts';
import type { Gpu } from '../gpu/gpu.ts';
import { f32, grid1d } from '../gpu/params.ts';
import type { KernelSpec } from '../gpu/registry.ts';
import { blocksPerRow, codeBytes, scaleBytes } from '../quant/block.ts';
import { formatOverride, type GpuQuantTensor } from './quant.ts';

const TILE = 8 * 8; // outputs per workgroup side: 8 per thread × WG_X = WG_Y = 8 (16 along K in bwd)
const K = {
  fwd: { shader: 'qmatmul', entry: 'fwd', bindings: ['read', 'read', 'read', 'rw'] },
  fwdK32: { shader: 'qmatmul', entry: 'fwd_k32', bindings: ['read', 'read', 'read', 'rw'] },
  bwd: { shader: 'qmatmul', entry: 'bwd', bindings: ['read', 'read', 'read', 'rw'] },
  gemv: { shader: 'qmatmul', entry: 'gemv', bindings: ['read', 'read', 'read', 'rw'] },
  gemvK32: { shader: 'qmatmul', entry: 'gemv_k32', bindings: ['read', 'read', 'read', 'rw'] },
} as const satisfies Record<string, KernelSpec>;

function check(buf: GpuBuf, bytes: number, what: string): void {
  if (buf.size < bytes) throw new RangeError(`${what} needs ${bytes} bytes, ${buf.label} has ${buf.size}`);
}

function checkW(W: GpuQuantTensor, what: string): void {
  check(W.codes, codeBytes(W.N, W.K, W.format), `${what}: codes`);
  check(W.scales, scaleBytes(W.N, W.K), `${what}: scales`);
}

/** Y = X·Wqᵀ + beta·Y (beta = 0 never reads Y).  X: (M, K), Wq: (N, K), Y: (M, N) */
export function qmatmulForward(gpu: Gpu, X: GpuBuf, W: GpuQuantTensor, Y: GpuBuf, M: number, beta = 0): void {
  const { N, K: k } = W;
  if (M === 0 || N === 0) return;
  const what = `qmatmul fwd ${W.format} ${M}x${N}x${k}`;
  checkW(W, what);
  check(X, M * k * 4, `${what}: X`);
  check(Y, M * N * 4, `${what}: Y`);
  gpu.dispatch(k % 32 === 0 ? K.fwdK32 : K.fwd, {
    params: [M, N, k, blocksPerRow(k), f32(beta)],
    buffers: [W.codes, W.scales, X, Y],
    grid: [Math.ceil(N / TILE), Math.ceil(M / TILE)],
    overrides: formatOverride(W.format),
  });
}

/** dX = dY·Wq + beta·dX (beta = 0 never reads dX).  dY: (M, N), Wq: (N, K), dX: (M, K) */
export function qmatmulBackward(gpu: Gpu, dY: GpuBuf, W: GpuQuantTensor, dX: GpuBuf, M: number, beta = 0): void {
  const { N, K: k } = W;
  if (M === 0 || k === 0) return;
  const what = `qmatmul bwd ${W.format} ${M}x${N}x${k}`;
  checkW(W, what);
  check(dY, M * N * 4, `${what}: dY`);
  check(dX, M * k * 4, `${what}: dX`);
  gpu.dispatch(K.bwd, {
    params: [M, N, k, blocksPerRow(k), f32(beta)],
    buffers: [W.codes, W.scales, dY, dX],
    grid: [Math.ceil(k / (2 * TILE)), Math.ceil(M / TILE)],
    overrides: formatOverride(W.format),
  });
}

/** Rows of X up to which `qgemv` applies (as gemv.ts's GEMV_MAX_ROWS). */
export const QGEMV_MAX_ROWS = 8;

/** Y = X·Wqᵀ + beta·Y for M <= 8 rows of X, reading each code word and scale once.
 *  X: (M, K), Wq: (N, K), Y: (M, N) */
export function qgemv(gpu: Gpu, X: GpuBuf, W: GpuQuantTensor, Y: GpuBuf, M: number, beta = 0): void {
  const { N, K: k } = W;
  if (M > QGEMV_MAX_ROWS) throw new RangeError(`qgemv: ${M} rows of X, at most ${QGEMV_MAX_ROWS} (use qmatmulForward)`);
  const what = `qgemv ${W.format} ${M}x${N}x${k}`;
  checkW(W, what);
  check(X, M * k * 4, `${what}: X`);
  check(Y, M * N * 4, `${what}: Y`);
  if (M === 0 || N === 0) return;
  gpu.dispatch(k % 32 === 0 ? K.gemvK32 : K.gemv, {
    params: [M, N, k, blocksPerRow(k), f32(beta)],
    buffers: [W.codes, W.scales, X, Y],
    grid: grid1d(Math.ceil(N / 4), 64),
    overrides: { ...formatOverride(W.format), MR: M, WG_X: 64 },
  });
}
