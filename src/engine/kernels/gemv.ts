// Matrix-vector products for decoding (shaders/gemv.wgsl): Y (M, N) = X (M, K) · op(W) + beta·Y
// for M <= GEMV_MAX_ROWS rows of X, reading each weight once. The linear layer's two f32
// storage orders:
//   'NT'  W (N, K), Y = X·Wᵀ   (nn.Linear)        variants 'row' (a thread per R rows of W,
//                                                  barrier-free: SwiftShader) and 'split'
//                                                  (split-K over a workgroup: real GPUs)
//   'NN'  W (K, N), Y = X·W    (GPT-2's Conv1D)   variant 'cols'
// The quantized weights' GEMV is in qmatmul.ts (`qgemv`), over the same block decoding as
// the quantized matmul. `tuneGemv` measures the NT variants (and rows per thread) on a
// decode-sized shape per adapter; untuned, 'row'.

import type { GpuBuf } from '../gpu/arena.ts';
import type { AutotuneResult, Autotuner } from '../gpu/autotune.ts';
import type { Gpu } from '../gpu/gpu.ts';
import { f32, grid1d } from '../gpu/params.ts';
import type { KernelSpec } from '../gpu/registry.ts';

/** Rows of X up to which a product is a GEMV (a generated token, a short prompt). */
export const GEMV_MAX_ROWS = 8;

/** The NT variants: 'row' (a thread per 4 rows of W) and 'split' (a workgroup of 64 or 128
 *  threads per 4 rows, split-K; needs K % 4 == 0, else 'row' runs). */
export const GEMV_VARIANTS = ['row', 'split64', 'split128'] as const;
export type GemvVariant = (typeof GEMV_VARIANTS)[number];

const spec = (entry: string): KernelSpec => ({ shader: 'gemv', entry, bindings: ['read', 'read', 'rw'] });
const SPEC = { row: spec('row'), row_v: spec('row_v'), split_v: spec('split_v'), cols: spec('cols'), cols_v: spec('cols_v') };
const WG = 64;

/**
 * The variants worth measuring on this adapter: on a CPU adapter (SwiftShader: the fallback
 * adapter) only 'row', since a workgroup barrier there costs seconds per dispatch and ~15 s
 * of pipeline build (measured: split64 ~500x slower than row on SwiftShader), which would
 * stall the start-up autotune for nothing.
 */
export function gemvVariants(gpu: Gpu): GemvVariant[] {
  return gpu.adapter.isFallbackAdapter ? ['row'] : [...GEMV_VARIANTS];
}

export interface GemvShape {
  layout: 'NT' | 'NN';
  M: number;
  N: number;
  K: number;
  /** Y = X·op(W) + beta·Y (default 0: Y is not read). */
  beta?: number;
}

const chosen = new WeakMap<GPUDevice, GemvVariant>();

export function chosenGemvVariant(gpu: Gpu): GemvVariant | undefined {
  return chosen.get(gpu.device);
}

function need(buf: GpuBuf, n: number, what: string, s: GemvShape): void {
  if (buf.size < n * 4) throw new RangeError(`gemv ${s.layout} ${s.M}x${s.N}x${s.K}: ${what} needs ${n} floats, ${buf.label} has ${buf.size / 4}`);
}

/** Y = X·op(W) + beta·Y.  X: (M, K), W: (N, K) for 'NT' or (K, N) for 'NN', Y: (M, N); M <= 8 */
export function gemv(gpu: Gpu, X: GpuBuf, W: GpuBuf, Y: GpuBuf, s: GemvShape, variant?: GemvVariant): void {
  const { M, N, K } = s;
  if (M > GEMV_MAX_ROWS) throw new RangeError(`gemv: ${M} rows of X, at most ${GEMV_MAX_ROWS} (use matmul)`);
  need(X, M * K, 'X', s);
  need(W, N * K, 'W', s);
  need(Y, M * N, 'Y', s);
  if (M === 0 || N === 0) return;
  const params = [M, N, K, f32(s.beta ?? 0)];
  const quads = Math.ceil(N / 4);
  if (s.layout === 'NN') {
    gpu.dispatch(N % 4 === 0 ? SPEC.cols_v : SPEC.cols, { params, buffers: [X, W, Y], grid: grid1d(quads, WG), overrides: { MR: M } });
    return;
  }
  const v = variant ?? chosen.get(gpu.device) ?? 'row';
  if (v === 'row' || K % 4 !== 0) {
    gpu.dispatch(K % 4 === 0 ? SPEC.row_v : SPEC.row, { params, buffers: [X, W, Y], grid: grid1d(quads, WG), overrides: { MR: M } });
    return;
  }
  gpu.dispatch(SPEC.split_v, { params, buffers: [X, W, Y], grid: grid1d(quads, 1), overrides: { MR: M, WG: v === 'split64' ? 64 : 128 } });
}

/**
 * Measure the NT variants at one token through a decoder's widest-but-one layer shape
 * (N = 1536, K = 576: SmolLM2-135M's gate/up) and make the fastest the default here.
 * Cached per adapter by `tuner`.
 */
export async function tuneGemv(gpu: Gpu, tuner: Autotuner, N = 1536, K = 576): Promise<AutotuneResult<GemvVariant>> {
  const arena = gpu.arena.child();
  try {
    const x = await arena.alloc('scratch', K * 4, 'tune-gemv-x');
    const w = await arena.alloc('scratch', N * K * 4, 'tune-gemv-w');
    const y = await arena.alloc('scratch', N * 4, 'tune-gemv-y');
    const r = await tuner.pick('gemv', `N=${N} K=${K}`, gemvVariants(gpu), (v) => gemv(gpu, x, w, y, { layout: 'NT', M: 1, N, K }, v));
    chosen.set(gpu.device, r.chosen);
    return r;
  } finally {
    arena.dispose();
  }
}
